package avro

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
)

// Schema is one registered-to-be schema: its JSON text (what the registry
// gets, with Tributary's properties), the parsed schema that encodes
// bodies, and the record's full name (for the record subject strategies).
type Schema struct {
	Text     string
	Parsed   avro.Schema
	FullName string
}

func newSchema(v map[string]any) (*Schema, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // column names may hold <>&
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	text := string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	// A cache of its own: the global one would hand a later version of the
	// table the records of an earlier one.
	parsed, err := avro.ParseBytesWithCache(b.Bytes(), "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse generated schema: %w", err)
	}
	s := &Schema{Text: text, Parsed: parsed}
	if n, ok := parsed.(avro.NamedSchema); ok {
		s.FullName = n.FullName()
	}
	return s, nil
}

// fieldSchema is a row or key field of column c: nullable ["null", …] with
// default null, or for a key column its branch(es) alone.
func fieldSchema(c column, nullable bool) map[string]any {
	var typ any
	switch {
	case len(c.branches) == 0:
		typ = "null" // a mapping's add of null: never anything else
	case nullable:
		typ = append([]any{"null"}, schemas(c.branches)...)
	case len(c.branches) == 1:
		typ = c.branches[0].schema
	default:
		typ = schemas(c.branches)
	}
	f := map[string]any{"name": c.field, "type": typ}
	if c.sourceType != "" {
		f["tributary.type"] = c.sourceType
	}
	if nullable || len(c.branches) == 0 {
		f["default"] = nil
	}
	if c.field != c.name {
		f["tributary.column"] = c.name
	}
	for k, v := range c.props {
		f[k] = v
	}
	return f
}

func fields(cols []column, nullable bool) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = fieldSchema(c, nullable)
	}
	return out
}

func record(name, ns string, fs []any) map[string]any {
	r := map[string]any{"type": "record", "name": name, "fields": fs}
	if ns != "" {
		r["namespace"] = ns
	}
	return r
}

func nullable(t any) []any { return []any{"null", t} }

func field(name string, typ any) map[string]any { return map[string]any{"name": name, "type": typ} }

func optionalField(name string, typ any) map[string]any {
	return map[string]any{"name": name, "type": nullable(typ), "default": nil}
}

// sourceRecord is the canonical source block. It is named in Tributary's
// namespace: every table's value schema holds the same record.
var sourceRecord = record("Source", "io.tributary", []any{
	field("connector", "string"),
	field("name", "string"),
	optionalField("server_id", "long"),
	field("database", "string"),
	field("table", "string"),
	field("position", "string"),
	optionalField("gtid", "string"),
	optionalField("txid", "string"),
	field("ts_ms", "long"),
	field("snapshot", "boolean"),
})

// nativeSchemas are the key and value schemas of a table (or a mapping's
// output of it) in the native flavour: <ns>.Key holds the key fields;
// <ns>.Value the canonical event, its images the <ns>.Row record of every
// field, and an "entity" string after "op" when tc is a mapping's with an
// entity.
func nativeSchemas(ns string, tc *tableCodec) (keySchema, valueSchema *Schema, err error) {
	keyRec := record("Key", ns, fields(tc.keyCols, tc.keyNullable))
	row := record("Row", ns, fields(tc.cols, true))
	head := []any{field("id", "string"), field("op", "string")}
	if tc.entity {
		head = append(head, field("entity", "string"))
	}
	value := record("Value", ns, append(head,
		optionalField("key", keyRec),
		optionalField("before", row),
		optionalField("after", "Row"),
		optionalField("absent", record("Absent", "", []any{
			field("before", map[string]any{"type": "array", "items": "string"}),
			field("after", map[string]any{"type": "array", "items": "string"}),
		})),
		field("source", sourceRecord),
		field("ts_ms", "long"),
	))
	if keySchema, err = newSchema(keyRec); err != nil {
		return nil, nil, fmt.Errorf("key schema: %w", err)
	}
	if valueSchema, err = newSchema(value); err != nil {
		return nil, nil, fmt.Errorf("value schema: %w", err)
	}
	return keySchema, valueSchema, nil
}
