package avro

import (
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// A table whose column changes type gets a new schema, and each version's
// events encode with their own (hamba/avro caches codecs by schema
// fingerprint; the versions must not share one).
func TestSchemaVersionsEncodeApart(t *testing.T) {
	t.Parallel()
	e := NewEncoder("p")
	for _, typ := range []string{"int", "int unsigned", "int"} {
		table := &capture.Table{Database: "db", Name: "t", Columns: []capture.Column{{Name: "id", Type: "int"}, {Name: "touch", Type: typ}}, Key: []int{0}}
		ev := &transform.Event{ID: "x", Op: capture.OpUpdate,
			Key:    transform.Row{{Name: "id", Value: int64(1)}},
			Before: transform.Row{{Name: "id", Value: int64(1)}, {Name: "touch", Value: nil}},
			After:  transform.Row{{Name: "id", Value: int64(1)}, {Name: "touch", Value: int64(1)}},
			Source: transform.Source{Connector: "mysql", Name: "s", Database: "db", Table: "t"}}
		if _, err := e.Encode(ev, table); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
}
