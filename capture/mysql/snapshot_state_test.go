package mysql

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture/snapshot"
)

func TestPositionSnapshotPart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pos  Position
	}{
		{"no snapshot", Position{File: "mariadb-bin.000003", Pos: 1234, GTIDSet: "0-1-55"}},
		{"nothing started", Position{File: "b.000001", Pos: 4, Snapshot: &snapshot.State{ID: "b.000001:4", Pending: []string{"shop.a", "shop.b", "shop.c"}}}},
		{"two tables mid read", Position{File: "b.000002", Pos: 99, GTIDSet: "0-1-9,1-2-3", Snapshot: &snapshot.State{ID: "b.000001:4@0-1-5", Active: []snapshot.Cursor{
			{Table: "shop.b", After: []any{int64(-5), uint64(math.MaxUint64), "zoë|snapshot=x", []byte{0, 0xff}, float32(1.5), math.Inf(-1), []string{"a", "b"}, true, nil, json.RawMessage(`{"a":1}`)}},
			{Table: "shop.c"},
		}, Pending: []string{"shop.d"}}}},
		{"last table", Position{File: "binlog.000001", Pos: 157, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", Snapshot: &snapshot.State{Active: []snapshot.Cursor{{Table: "db.t.with.dots", After: []any{"k"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := FormatPosition(tt.pos)
			if (tt.pos.Snapshot != nil) != strings.Contains(s, "|snapshot=") {
				t.Errorf("FormatPosition = %q", s)
			}
			got, err := ParsePosition(s)
			if err != nil {
				t.Fatalf("ParsePosition(%q): %v", s, err)
			}
			if !reflect.DeepEqual(got, tt.pos) {
				t.Errorf("round trip of %q:\n got %#v %#v\nwant %#v %#v", s, got, got.Snapshot, tt.pos, tt.pos.Snapshot)
			}
			if FormatPosition(got) != s {
				t.Errorf("format after parse differs: %q", FormatPosition(got))
			}
			plain := tt.pos
			plain.Snapshot = nil
			if got.Compare(plain) != 0 {
				t.Errorf("Compare does not ignore the snapshot part")
			}
		})
	}
	for _, bad := range []string{
		"b.000001:4|snapshot=",
		"b.000001:4|snapshot=!!!",
		"b.000001:4|snapshot=" + "bm90IGpzb24",                                     // "not json"
		"b.000001:4|snapshot=" + "eyJ0YWJsZSI6Im5vZG90In0",                         // {"table":"nodot"}
		"b.000001:4|snapshot=" + "eyJ0YWJsZSI6ImEuYiIsImFmdGVyIjpbeyJxIjoiMSJ9XX0", // unknown value type q
		"|snapshot=eyJ0YWJsZSI6ImEuYiJ9",
	} {
		if p, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) = %+v, want an error", bad, p)
		}
	}
}

// Checkpoints written before parallel reads carry the single-table form;
// they resume as that table's cursor.
func TestParsePositionSingleTableSnapshot(t *testing.T) {
	t.Parallel()
	old := "b.000002:99@0-1-9|snapshot=" + base64.RawURLEncoding.EncodeToString([]byte(`{"id":"b.000001:4","table":"shop.a","after":[{"i":"42"}],"pending":["shop.b"]}`))
	p, err := ParsePosition(old)
	if err != nil {
		t.Fatal(err)
	}
	want := &snapshot.State{ID: "b.000001:4", Active: []snapshot.Cursor{{Table: "shop.a", After: []any{int64(42)}}}, Pending: []string{"shop.b"}}
	if !reflect.DeepEqual(p.Snapshot, want) || p.File != "b.000002" || p.Pos != 99 {
		t.Errorf("ParsePosition(%q) = %+v %+v", old, p, p.Snapshot)
	}
}

func TestSnapshotConfigValidate(t *testing.T) {
	t.Parallel()
	base := Config{Addr: "h:1", User: "u", ServerID: 9, Include: []string{"shop.*"}}
	tests := []struct {
		snap SnapshotConfig
		want string
	}{
		{SnapshotConfig{}, ""},
		{SnapshotConfig{Mode: SnapshotWhenNeeded, ChunkSize: 10, RowsPerSecond: 5, Tables: []string{"shop.a"}}, ""},
		{SnapshotConfig{Mode: "always"}, `src.snapshot.mode "always"`},
		{SnapshotConfig{ChunkSize: -1}, "src.snapshot.chunk_size"},
		{SnapshotConfig{RowsPerSecond: -1}, "src.snapshot.rows_per_second"},
		{SnapshotConfig{Parallel: 4}, ""},
		{SnapshotConfig{Parallel: 17}, "src.snapshot.parallel 17"},
		{SnapshotConfig{Tables: []string{"other.a"}}, `src.snapshot.tables[0] "other.a" is not captured`},
		{SnapshotConfig{Tables: []string{"nodot"}}, `src.snapshot.tables[0] "nodot": want db.table`},
	}
	for _, tt := range tests {
		c := base
		c.Snapshot = tt.snap
		c.Defaults()
		err := c.Validate("src")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.snap, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want it to mention %q", tt.snap, err, tt.want)
		}
	}
	var c Config
	c.Defaults()
	if c.Snapshot.Mode != SnapshotNever || c.Snapshot.ChunkSize != 1000 || c.Snapshot.Parallel != 1 {
		t.Errorf("defaults %+v", c.Snapshot)
	}
}
