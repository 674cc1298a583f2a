package schema_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

var testNow = time.Date(2024, 2, 1, 0, 0, 0, 123_000_000, time.UTC)

// compileSchema compiles docs/event.schema.json.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "event.schema.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("event.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

// validate reports whether doc is valid against sch.
func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("parse instance %s: %v", doc, err)
	}
	return sch.Validate(inst)
}

// wideTable has a column for every canonical value type.
func wideTable() *capture.Table {
	return &capture.Table{
		Database: "shop", Name: "wide",
		Columns: []capture.Column{
			{Name: "id", Type: "bigint unsigned"}, {Name: "i", Type: "bigint"}, {Name: "b", Type: "bool"},
			{Name: "f32", Type: "float"}, {Name: "f64", Type: "double"}, {Name: "s", Type: "varchar"},
			{Name: "bin", Type: "blob"}, {Name: "doc", Type: "json"}, {Name: "tags", Type: "set"},
			{Name: "arr", Type: "int4[]"}, {Name: "n", Type: "text"},
		},
		Key: []int{0},
	}
}

func wideRow(id uint64) []any {
	return []any{
		id, int64(math.MinInt64), true, float32(math.NaN()), math.Inf(-1), "Zoë 李 📦 \u2028 \"q\"\n",
		[]byte{0, 1, 255}, json.RawMessage(`{"a":[1,{"b":null}],"c":"d"}`), []string{"gift", "express"},
		[]any{int64(1), nil, []any{"x", 2.5}}, nil,
	}
}

func withAbsent(row []any, cols ...int) []any {
	out := append([]any(nil), row...)
	for _, c := range cols {
		out[c] = capture.Absent
	}
	return out
}

func TestEventsMatchSchema(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	mysql := func(op capture.Op, before, after []any) *capture.Change {
		return &capture.Change{
			Op: op, Table: wideTable(), Before: before, After: after,
			Position: "binlog.000003:1000@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-22", EventPosition: "binlog.000003:1200",
			RowIndex: 2, ServerID: 7, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", TxID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
			CommitTime: time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC),
		}
	}
	pg := func(op capture.Op, before, after []any) *capture.Change {
		return &capture.Change{
			Op: op, Table: wideTable(), Before: before, After: after,
			Position: "0/16B3700", EventPosition: "0/16B3748:4", TxID: "7781",
		}
	}
	snapshot := func(c *capture.Change) *capture.Change {
		c.Snapshot, c.GTID, c.TxID, c.ServerID = true, "", "", 0
		c.CommitTime = time.Time{}
		return c
	}
	maxRow := wideRow(math.MaxUint64)
	tests := []struct {
		name      string
		connector string
		c         *capture.Change
		events    int
	}{
		{"insert", transform.ConnectorMySQL, mysql(capture.OpCreate, nil, maxRow), 1},
		{"snapshot read", transform.ConnectorMySQL, snapshot(mysql(capture.OpRead, nil, wideRow(0))), 1},
		{"update", transform.ConnectorMySQL, mysql(capture.OpUpdate, wideRow(1), withAbsent(wideRow(1), 10)), 1},
		{"update minimal image", transform.ConnectorMySQL, mysql(capture.OpUpdate, withAbsent(wideRow(1), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), withAbsent(wideRow(1), 2, 3)), 1},
		{"delete", transform.ConnectorMySQL, mysql(capture.OpDelete, maxRow, nil), 1},
		{"truncate", transform.ConnectorMySQL, mysql(capture.OpTruncate, nil, nil), 1},
		{"key change", transform.ConnectorMySQL, mysql(capture.OpUpdate, wideRow(1), wideRow(2)), 2},
		{"key change with absent after", transform.ConnectorMySQL, mysql(capture.OpUpdate, withAbsent(wideRow(1), 10), withAbsent(wideRow(2), 5, 10)), 2},
		{"postgres update without old row", transform.ConnectorPostgres, pg(capture.OpUpdate, nil, withAbsent(wideRow(3), 7)), 1},
		{"postgres delete key only", transform.ConnectorPostgres, pg(capture.OpDelete, withAbsent(wideRow(3), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), nil), 1},
		{"postgres truncate", transform.ConnectorPostgres, pg(capture.OpTruncate, nil, nil), 1},
		{"empty values", transform.ConnectorPostgres, pg(capture.OpCreate, nil, []any{uint64(9), int64(0), false, float32(0), 0.0, "", []byte{}, json.RawMessage(`null`), []string{}, []any{}, nil}), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, err := transform.Build("main", tt.connector, tt.c, testNow)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if len(evs) != tt.events {
				t.Fatalf("%d events, want %d", len(evs), tt.events)
			}
			for i := range evs {
				doc, err := evs[i].AppendJSON(nil)
				if err != nil {
					t.Fatalf("AppendJSON: %v", err)
				}
				if err := validate(t, sch, doc); err != nil {
					t.Errorf("event %d does not match the schema: %v\n%s", i, err, doc)
				}
			}
		})
	}
}

func TestSchemaRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	valid := `{"id":"main:binlog.000003:1200#2","op":"u","key":{"id":1},"before":{"id":1,"n":"a"},"after":{"id":1},` +
		`"absent":{"before":[],"after":["n"]},"source":{"connector":"mysql","name":"main","server_id":7,"database":"shop",` +
		`"table":"t","position":"binlog.000003:1000","gtid":"g:1","txid":"g:1","ts_ms":1706745599000,"snapshot":false},"ts_ms":1706745600123}`
	if err := validate(t, sch, []byte(valid)); err != nil {
		t.Fatalf("base document is invalid: %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"unknown op", `"op":"u"`, `"op":"x"`},
		{"missing key", `"key":{"id":1},`, ``},
		{"extra member", `"ts_ms":1706745600123}`, `"ts_ms":1706745600123,"extra":1}`},
		{"absent empty on both sides", `"absent":{"before":[],"after":["n"]}`, `"absent":{"before":[],"after":[]}`},
		{"absent missing a list", `"absent":{"before":[],"after":["n"]}`, `"absent":{"after":["n"]}`},
		{"absent is null", `"absent":{"before":[],"after":["n"]}`, `"absent":null`},
		{"update without after", `"after":{"id":1}`, `"after":null`},
		{"delete with after", `"op":"u"`, `"op":"d"`},
		{"id without row index", `#2"`, `"`},
		{"ts_ms as string", `"ts_ms":1706745600123}`, `"ts_ms":"1706745600123"}`},
		{"unknown connector", `"connector":"mysql"`, `"connector":"oracle"`},
		{"snapshot as string", `"snapshot":false`, `"snapshot":"false"`},
		{"server_id zero", `"server_id":7`, `"server_id":0`},
		{"empty gtid", `"gtid":"g:1"`, `"gtid":""`},
		{"postgres with gtid", `"connector":"mysql","name":"main","server_id":7,`, `"connector":"postgres","name":"main",`},
		{"source without position", `"position":"binlog.000003:1000",`, ``},
		{"truncate with key", `"op":"u"`, `"op":"t"`},
	}
	for _, tt := range tests {
		doc := strings.Replace(valid, tt.old, tt.new, 1)
		if doc == valid {
			t.Fatalf("%s: replacement %q not found", tt.name, tt.old)
		}
		if err := validate(t, sch, []byte(doc)); err == nil {
			t.Errorf("%s: schema accepts %s", tt.name, doc)
		}
	}
}

// TestSchemaAcceptsDocumentedExamples validates the JSON examples in
// docs/events.md, so the documentation and the schema agree.
func TestSchemaAcceptsDocumentedExamples(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(raw), "```json\n")
	n := 0
	for _, p := range parts[1:] {
		block, _, _ := strings.Cut(p, "```")
		if !strings.Contains(block, `"source"`) {
			continue
		}
		n++
		if err := validate(t, sch, []byte(block)); err != nil {
			t.Errorf("example %d of docs/events.md does not match the schema: %v", n, err)
		}
	}
	if n == 0 {
		t.Fatal("no examples found in docs/events.md")
	}
	t.Logf("%d examples validated", n)
}
