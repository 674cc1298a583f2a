package avro

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
)

// The debezium flavour's schemas parse and its values decode back to what
// Debezium's JSON payload holds.
func TestDebeziumFlavourRoundTrip(t *testing.T) {
	t.Parallel()
	table := &capture.Table{Database: "db", Name: "t", Key: []int{0}, Columns: []capture.Column{
		{Name: "id", Type: "int"}, {Name: "s", Type: "smallint"}, {Name: "biu", Type: "bigint unsigned"}, {Name: "d", Type: "decimal(10,2)"},
		{Name: "dt", Type: "date"}, {Name: "ts", Type: "timestamp(6)"}, {Name: "j", Type: "json"}, {Name: "b", Type: "blob"}, {Name: "f", Type: "float"},
	}}
	row := []any{int64(1), int64(-3), uint64(18446744073709551615), "12.50", "2024-01-31", "2024-01-31T00:00:00.000001Z", json.RawMessage(`{"a":1}`), []byte{1, 2}, float32(1.5)}
	c := &capture.Change{Op: capture.OpUpdate, Table: table, Before: row, After: row, Position: "bin.000001:4@0-1-2", EventPosition: "bin.000001:100"}
	evs, err := transform.Build("src", transform.ConnectorMySQL, c, c.CommitTime)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []debezium.BigintUnsignedMode{debezium.BigintUnsignedLong, debezium.BigintUnsignedPrecise} {
		enc, err := NewDebeziumEncoder(debezium.Options{BigintUnsigned: mode}).Encode(&evs[0], table)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if enc.ValueSchema.FullName != "src.db.t.Envelope" || enc.KeySchema.FullName != "src.db.t.Key" {
			t.Errorf("record names %s, %s; want src.db.t.Envelope and src.db.t.Key", enc.ValueSchema.FullName, enc.KeySchema.FullName)
		}
		var v map[string]any
		if err := avro.Unmarshal(enc.ValueSchema.Parsed, enc.Value, &v); err != nil {
			t.Fatal(err)
		}
		after, _ := v["after"].(map[string]any)
		if inner, ok := after["src.db.t.Value"].(map[string]any); ok {
			after = inner
		}
		if after["id"] != 1 || after["s"] != 3-6 || after["d"] != "12.50" || after["j"] != `{"a":1}` || v["op"] != "u" {
			t.Errorf("%s: decoded %#v", mode, v)
		}
		src, _ := v["source"].(map[string]any)
		if src["connector"] != "mysql" || src["file"] != "bin.000001" || src["pos"] != int64(100) {
			t.Errorf("%s: source %#v", mode, src)
		}
	}
}
