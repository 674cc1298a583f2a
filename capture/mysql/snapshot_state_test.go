package mysql

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

func TestPositionSnapshotPart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pos  Position
	}{
		{"no snapshot", Position{File: "mariadb-bin.000003", Pos: 1234, GTIDSet: "0-1-55"}},
		{"first table start", Position{File: "b.000001", Pos: 4, Snapshot: &SnapshotState{ID: "b.000001:4", Table: "shop.a", Pending: []string{"shop.b", "shop.c"}}}},
		{"mid table", Position{File: "b.000002", Pos: 99, GTIDSet: "0-1-9,1-2-3", Snapshot: &SnapshotState{ID: "b.000001:4@0-1-5", Table: "shop.b",
			After: []any{int64(-5), uint64(math.MaxUint64), "zoë|snapshot=x", []byte{0, 0xff}, float32(1.5), math.Inf(-1), []string{"a", "b"}, true, nil, json.RawMessage(`{"a":1}`)}}}},
		{"last table", Position{File: "binlog.000001", Pos: 157, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", Snapshot: &SnapshotState{Table: "db.t.with.dots", After: []any{"k"}}}},
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
		{SnapshotConfig{Parallel: 4}, "src.snapshot.parallel"},
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

func TestSurvivors(t *testing.T) {
	t.Parallel()
	p := func(s string) Position { return positionOf(t, s) }
	row := func(id int64, v string) []any { return []any{id, v} }
	k := func(id int64) string { return keyString([]any{id}, []int{0}) }
	chunk := [][]any{row(1, "a"), row(2, "b"), row(3, "c"), row(4, "d")}
	low := p("b.000002:500")
	tests := []struct {
		name   string
		events []windowEvent
		want   []int
	}{
		{"no events", nil, []int{0, 1, 2, 3}},
		{"before low: already in the chunk", []windowEvent{{p("b.000002:499"), k(2)}, {p("b.000001:9000"), k(3)}}, []int{0, 1, 2, 3}},
		{"at low", []windowEvent{{p("b.000002:500"), k(2)}}, []int{0, 2, 3}},
		{"after low, later file", []windowEvent{{p("b.000003:4"), k(4)}, {p("b.000002:501"), k(1)}}, []int{1, 2}},
		{"keys outside the chunk", []windowEvent{{p("b.000002:600"), k(9)}}, []int{0, 1, 2, 3}},
		{"same key twice", []windowEvent{{p("b.000002:600"), k(3)}, {p("b.000002:700"), k(3)}}, []int{0, 1, 3}},
	}
	for _, tt := range tests {
		if got := survivors(chunk, []int{0}, tt.events, low); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: survivors %v, want %v", tt.name, got, tt.want)
		}
	}
	// Composite keys, in key order, compare by canonical value and type.
	comp := [][]any{{"x", int64(1), "v"}, {"x", int64(2), "v"}}
	ev := []windowEvent{{low, keyString([]any{"x", uint64(1), "other"}, []int{0, 1})}, {low, keyString([]any{"x", int64(2), "w"}, []int{0, 1})}}
	if got := survivors(comp, []int{0, 1}, ev, low); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("composite: survivors %v, want [0]", got)
	}
}

func TestSnapMergeObserve(t *testing.T) {
	t.Parallel()
	tbl := &capturetable
	m := &snapMerge{watch: "shop.a"}
	at := positionOf(t, "b.000001:10")
	m.observe(tbl, at, []any{int64(1), "x"}, []any{int64(2), "y"}) // key change: both keys
	other := *tbl
	other.Name = "b"
	m.observe(&other, at, nil, []any{int64(3), "z"})
	if len(m.events) != 2 || m.events[0].Key != keyString([]any{int64(1)}, []int{0}) || m.events[1].Key != keyString([]any{int64(2)}, []int{0}) {
		t.Errorf("events %+v", m.events)
	}
}

var capturetable = capture.Table{Database: "shop", Name: "a", Columns: []capture.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
