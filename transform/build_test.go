package transform

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

const srcJSON = `"source":{"connector":"mysql","name":"main","server_id":7,"database":"shop","table":"users",` +
	`"position":"binlog.000003:1000","gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:23","ts_ms":1706745599000,"snapshot":false},"ts_ms":1706745600123}`

func TestBuildShapes(t *testing.T) {
	t.Parallel()
	ada := []any{int64(42), "Ada", "ada@example.com"}
	ada2 := []any{int64(42), "Ada L.", "ada@example.com"}
	tests := []struct {
		name string
		c    *capture.Change
		want []string
	}{
		{
			name: "insert",
			c:    change(capture.OpCreate, nil, ada),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"c","key":{"id":42},"before":null,` +
				`"after":{"id":42,"name":"Ada","email":"ada@example.com"},` + srcJSON},
		},
		{
			name: "update",
			c:    change(capture.OpUpdate, ada, ada2),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},` +
				`"before":{"id":42,"name":"Ada","email":"ada@example.com"},` +
				`"after":{"id":42,"name":"Ada L.","email":"ada@example.com"},` + srcJSON},
		},
		{
			name: "update without before image",
			c:    change(capture.OpUpdate, nil, ada2),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},"before":null,` +
				`"after":{"id":42,"name":"Ada L.","email":"ada@example.com"},` + srcJSON},
		},
		{
			name: "delete",
			c:    change(capture.OpDelete, ada, nil),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"d","key":{"id":42},` +
				`"before":{"id":42,"name":"Ada","email":"ada@example.com"},"after":null,` + srcJSON},
		},
		{
			name: "NULL is not absent",
			c:    change(capture.OpCreate, nil, []any{int64(1), nil, ""}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"c","key":{"id":1},"before":null,` +
				`"after":{"id":1,"name":null,"email":""},` + srcJSON},
		},
		{
			name: "absent columns listed, not null",
			c: change(capture.OpUpdate,
				[]any{int64(42), capture.Absent, capture.Absent},
				[]any{capture.Absent, "Ada L.", capture.Absent}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},` +
				`"before":{"id":42},"after":{"name":"Ada L."},` +
				`"absent":{"before":["name","email"],"after":["id","email"]},` + srcJSON},
		},
		{
			name: "absent in one image only",
			c:    change(capture.OpUpdate, ada, []any{int64(42), "Ada L.", capture.Absent}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},` +
				`"before":{"id":42,"name":"Ada","email":"ada@example.com"},"after":{"id":42,"name":"Ada L."},` +
				`"absent":{"before":[],"after":["email"]},` + srcJSON},
		},
		{
			name: "truncate",
			c:    change(capture.OpTruncate, nil, nil),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"t","key":{},"before":null,"after":null,` + srcJSON},
		},
		{
			name: "key change splits into delete and create",
			c:    change(capture.OpUpdate, ada, []any{int64(43), "Ada", "ada@example.com"}),
			want: []string{
				`{"id":"main:binlog.000003:1200#2.0","op":"d","key":{"id":42},` +
					`"before":{"id":42,"name":"Ada","email":"ada@example.com"},"after":null,` + srcJSON,
				`{"id":"main:binlog.000003:1200#2.1","op":"c","key":{"id":43},"before":null,` +
					`"after":{"id":43,"name":"Ada","email":"ada@example.com"},` + srcJSON,
			},
		},
		{
			name: "key change fills absent after columns from before",
			c: change(capture.OpUpdate,
				[]any{int64(42), "Ada", capture.Absent},
				[]any{int64(43), capture.Absent, capture.Absent}),
			want: []string{
				`{"id":"main:binlog.000003:1200#2.0","op":"d","key":{"id":42},"before":{"id":42,"name":"Ada"},"after":null,` +
					`"absent":{"before":["email"],"after":[]},` + srcJSON,
				`{"id":"main:binlog.000003:1200#2.1","op":"c","key":{"id":43},"before":null,"after":{"id":43,"name":"Ada"},` +
					`"absent":{"before":[],"after":["email"]},` + srcJSON,
			},
		},
		{
			name: "key absent in before is unchanged",
			c:    change(capture.OpUpdate, []any{capture.Absent, "Ada", "a@x"}, []any{int64(43), "Ada", "a@x"}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":43},` +
				`"before":{"name":"Ada","email":"a@x"},"after":{"id":43,"name":"Ada","email":"a@x"},` +
				`"absent":{"before":["id"],"after":[]},` + srcJSON},
		},
		{
			name: "key absent in after comes from before",
			c:    change(capture.OpUpdate, ada, []any{capture.Absent, "Bo", capture.Absent}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},` +
				`"before":{"id":42,"name":"Ada","email":"ada@example.com"},"after":{"name":"Bo"},` +
				`"absent":{"before":[],"after":["id","email"]},` + srcJSON},
		},
		{
			name: "same key of different canonical type is a change",
			c:    change(capture.OpUpdate, ada, []any{uint64(42), "Ada", "x"}),
			want: []string{`{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":42},` +
				`"before":{"id":42,"name":"Ada","email":"ada@example.com"},"after":{"id":42,"name":"Ada","email":"x"},` + srcJSON},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs := mustBuild(t, tt.c)
			if len(evs) != len(tt.want) {
				t.Fatalf("Build returned %d events, want %d", len(evs), len(tt.want))
			}
			for i := range evs {
				if got := mustJSON(t, &evs[i]); got != tt.want[i] {
					t.Errorf("event %d:\n got %s\nwant %s", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestBuildSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		connector string
		edit      func(c *capture.Change)
		want      string
	}{
		{
			name:      "postgres omits server_id and gtid, has txid",
			connector: ConnectorPostgres,
			edit: func(c *capture.Change) {
				c.ServerID, c.GTID, c.TxID = 0, "", "7781"
				c.Position, c.CommitTime = "0/16B3748", time.UnixMilli(1706745599123)
			},
			want: `"source":{"connector":"postgres","name":"main","database":"shop","table":"users",` +
				`"position":"0/16B3748","txid":"7781","ts_ms":1706745599123,"snapshot":false}`,
		},
		{
			name:      "snapshot without commit time",
			connector: ConnectorMySQL,
			edit: func(c *capture.Change) {
				c.Op, c.Before, c.Snapshot, c.CommitTime, c.GTID = capture.OpRead, nil, true, time.Time{}, ""
			},
			want: `"source":{"connector":"mysql","name":"main","server_id":7,"database":"shop","table":"users",` +
				`"position":"binlog.000003:1000","ts_ms":0,"snapshot":true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := change(capture.OpCreate, nil, []any{int64(1), "a", "b"})
			tt.edit(c)
			evs, err := Build("main", tt.connector, c, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, &evs[0]); !strings.Contains(got, tt.want) {
				t.Errorf("got %s\nwant it to contain %s", got, tt.want)
			}
		})
	}
}

func TestBuildIDIsDeterministic(t *testing.T) {
	t.Parallel()
	c := change(capture.OpCreate, nil, []any{int64(1), "a", "b"})
	first := mustBuild(t, c)
	again, err := Build("main", ConnectorMySQL, c, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if first[0].ID != again[0].ID || first[0].ID != "main:binlog.000003:1200#2" {
		t.Errorf("ids %q and %q, want both main:binlog.000003:1200#2", first[0].ID, again[0].ID)
	}
	if again[0].TsMs != testNow.Add(time.Hour).UnixMilli() {
		t.Errorf("ts_ms = %d, want the build time", again[0].TsMs)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	row := []any{int64(1), "a", "b"}
	tests := []struct {
		name      string
		source    string
		connector string
		c         func() *capture.Change
		wantErr   string
	}{
		{"no key", "main", ConnectorMySQL, func() *capture.Change {
			c := change(capture.OpCreate, nil, row)
			c.Table.Key = nil
			return c
		}, "table shop.users has no primary key; configure key columns"},
		{"empty source", "", ConnectorMySQL, func() *capture.Change { return change(capture.OpCreate, nil, row) }, "empty source name"},
		{"bad connector", "main", "oracle", func() *capture.Change { return change(capture.OpCreate, nil, row) }, `unknown connector "oracle"`},
		{"nil change", "main", ConnectorMySQL, func() *capture.Change { return nil }, "change without table"},
		{"no table", "main", ConnectorMySQL, func() *capture.Change {
			c := change(capture.OpCreate, nil, row)
			c.Table = nil
			return c
		}, "change without table"},
		{"no event position", "main", ConnectorMySQL, func() *capture.Change {
			c := change(capture.OpCreate, nil, row)
			c.EventPosition = ""
			return c
		}, "empty event position"},
		{"unknown op", "main", ConnectorMySQL, func() *capture.Change { return change("x", nil, row) }, `unknown op "x"`},
		{"insert without after", "main", ConnectorMySQL, func() *capture.Change { return change(capture.OpCreate, nil, nil) }, `op "c" without after image`},
		{"insert with before", "main", ConnectorMySQL, func() *capture.Change { return change(capture.OpCreate, row, row) }, `op "c" with a before image`},
		{"delete without before", "main", ConnectorMySQL, func() *capture.Change { return change(capture.OpDelete, nil, nil) }, `op "d" without before image`},
		{"delete with after", "main", ConnectorMySQL, func() *capture.Change { return change(capture.OpDelete, row, row) }, `op "d" with an after image`},
		{"truncate with rows", "main", ConnectorMySQL, func() *capture.Change { return change(capture.OpTruncate, nil, row) }, `op "t" with an after image`},
		{"short image", "main", ConnectorMySQL, func() *capture.Change {
			return change(capture.OpCreate, nil, []any{int64(1)})
		}, "after image has 1 values for 3 columns"},
		{"key index out of range", "main", ConnectorMySQL, func() *capture.Change {
			c := change(capture.OpCreate, nil, row)
			c.Table.Key = []int{3}
			return c
		}, "key index 3 out of range"},
		{"key absent everywhere", "main", ConnectorMySQL, func() *capture.Change {
			return change(capture.OpUpdate, []any{capture.Absent, "a", "b"}, []any{capture.Absent, "a", "c"})
		}, `key column "id" absent from both images`},
		{"key not encodable", "main", ConnectorMySQL, func() *capture.Change {
			return change(capture.OpCreate, nil, []any{42, "a", "b"})
		}, `key: column "id": unsupported value type int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Build(tt.source, tt.connector, tt.c(), testNow)
			if err == nil {
				t.Fatalf("Build = %d events, want error %q", len(evs), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestTruncateNeedsNoKey(t *testing.T) {
	t.Parallel()
	c := change(capture.OpTruncate, nil, nil)
	c.Table.Key = nil
	evs := mustBuild(t, c)
	if len(evs) != 1 || string(EncodeKey(&evs[0])) != "{}" {
		t.Fatalf("truncate events %+v, want one with key {}", evs)
	}
}

func TestEventAppendJSONErrors(t *testing.T) {
	t.Parallel()
	evs := mustBuild(t, change(capture.OpCreate, nil, []any{int64(1), "ok", 3}))
	got, err := evs[0].AppendJSON([]byte("prefix"))
	want := `encode event main:binlog.000003:1200#2 after: column "email": unsupported value type int`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if string(got) != "prefix" {
		t.Errorf("dst after error = %q, want it unchanged", got)
	}
}
