package avro

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// Encoding an event and decoding it generically gives back the JSON
// format's bytes, for values in the logical types and in their fallbacks.
func TestCanonicalJSONRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		connector string
		cols      []capture.Column
		row       []any
	}{
		{transform.ConnectorMySQL, []capture.Column{
			{Name: "id", Type: "int"}, {Name: "biu", Type: "bigint unsigned"}, {Name: "d", Type: "decimal(10,2)"},
			{Name: "dt", Type: "date"}, {Name: "zero", Type: "date"}, {Name: "tm", Type: "time(3)"},
			{Name: "dtm", Type: "datetime(6)"}, {Name: "ts", Type: "timestamp(2)"}, {Name: "j", Type: "json"},
			{Name: "st", Type: "set('a','b')"}, {Name: "b", Type: "blob"}, {Name: "f", Type: "float"}, {Name: "odd name", Type: "varchar(3)"},
		}, []any{int64(1), uint64(math.MaxUint64), "-12.50", "1000-01-01", "0000-00-00", "-838:59:59.000",
			"2024-01-31 23:59:59.123456", "1970-01-01T00:00:00.10Z", json.RawMessage(`{"a": [1]}`), []string{"a", "b"}, []byte{0, 1}, float32(0.1), "x"}},
		{transform.ConnectorPostgres, []capture.Column{
			{Name: "id", Type: "int8"}, {Name: "n", Type: "numeric"}, {Name: "ns", Type: "numeric(5,2)"}, {Name: "nan", Type: "numeric(5,2)"},
			{Name: "tstz", Type: "timestamptz"}, {Name: "inf", Type: "timestamptz"}, {Name: "ts", Type: "timestamp(6)"},
			{Name: "ia", Type: "int4[]"}, {Name: "ia2", Type: "int4[]"}, {Name: "dom", Type: "posint"}, {Name: "f", Type: "float8"}, {Name: "u", Type: "uuid"},
		}, []any{int64(-1), "NaN", "1.50", "NaN", "2024-01-31T23:59:59.5Z", "infinity", "0001-01-01 00:00:00",
			[]any{int64(1), nil}, []any{[]any{int64(1)}}, int64(7), math.Inf(-1), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	}
	for _, tc := range cases {
		table := &capture.Table{Database: "db", Name: "t", Columns: tc.cols, Key: []int{0}}
		c := &capture.Change{Op: capture.OpUpdate, Table: table, Before: tc.row, After: tc.row, Position: "p", EventPosition: "e"}
		evs, err := transform.Build("src", tc.connector, c, c.CommitTime)
		if err != nil {
			t.Fatal(err)
		}
		ev := &evs[0]
		want, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := NewEncoder("p").Encode(ev, table)
		if err != nil {
			t.Fatalf("%s: %v", tc.connector, err)
		}
		var v map[string]any
		if err := avro.Unmarshal(enc.ValueSchema.Parsed, enc.Value, &v); err != nil {
			t.Fatal(err)
		}
		got, err := CanonicalJSON(enc.ValueSchema.Parsed, v)
		if err != nil {
			t.Fatalf("%s: %v", tc.connector, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.connector, got, want)
		}
		var k map[string]any
		if err := avro.Unmarshal(enc.KeySchema.Parsed, enc.Key, &k); err != nil {
			t.Fatal(err)
		}
		if gotKey, err := CanonicalKeyJSON(enc.KeySchema.Parsed, k); err != nil || string(gotKey) != string(transform.EncodeKey(ev)) {
			t.Errorf("%s: key %s (%v), want %s", tc.connector, gotKey, err, transform.EncodeKey(ev))
		}
	}
}
