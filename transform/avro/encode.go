package avro

import (
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// Encoded is one event's Avro key and value bodies (without the wire
// format's header) and the schemas they were written with. Key is nil for a
// truncate, which has no key.
type Encoded struct {
	Key, Value             []byte
	KeySchema, ValueSchema *Schema
}

// Encoder encodes canonical events in the native flavour, caching each
// table's schemas and column mapping. It is not safe for concurrent use.
type Encoder struct {
	prefix string
	tables map[*capture.Table]*tableCodec
	mapped map[*capture.Table]*tableCodec // a mapping's output of the table
}

// maxCachedTables bounds the cache: sources hand out a new *capture.Table
// after every schema change.
const maxCachedTables = 4096

// NewEncoder returns an Encoder whose record names start with topicPrefix:
// <topicPrefix>.<source>.<database>.<table>.Value.
func NewEncoder(topicPrefix string) *Encoder {
	return &Encoder{prefix: topicPrefix, tables: map[*capture.Table]*tableCodec{}, mapped: map[*capture.Table]*tableCodec{}}
}

type tableCodec struct {
	// api has codec caches of its own: hamba/avro caches codecs by schema
	// fingerprint, and a record referenced by name (after: Row) has the
	// same fingerprint in every version of a table.
	api    avro.API
	table  *capture.Table
	source string
	cols   []column // the image fields: the table's columns, or a mapping's output
	byName map[string]int
	// keyCols are the key fields in key order; keyNullable says their
	// values may be null (a mapping's key.fields).
	keyCols     []column
	keyNullable bool
	entity      bool // the value has an "entity" field (a mapping's entity)
	key, value  *Schema
}

// newAPI is a codec cache for one schema version.
func newAPI() avro.API {
	api := avro.Config{}.Freeze()
	api.Register(string(avro.Long)+"."+string(avro.LocalTimestampMicros), localMicros(0))
	return api
}

// Schemas returns the key and value schemas of table for events of source.
func (e *Encoder) Schemas(source, connector string, table *capture.Table) (key, value *Schema, err error) {
	tc, err := e.codec(source, connector, table)
	if err != nil {
		return nil, nil, err
	}
	return tc.key, tc.value, nil
}

func (e *Encoder) codec(source, connector string, table *capture.Table) (*tableCodec, error) {
	if tc, ok := e.tables[table]; ok && tc.source == source {
		return tc, nil
	}
	names := make([]string, len(table.Columns))
	for i, c := range table.Columns {
		names[i] = c.Name
	}
	fieldNames := fieldNames(names)
	// Union members are resolved by Go type (cached per type), images and
	// records as *map[string]any (nullable unions, cached too): hamba's
	// {"member": value} form builds a codec per value.
	tc := &tableCodec{api: newAPI(), table: table, source: source, cols: make([]column, len(table.Columns)), byName: make(map[string]int, len(names))}
	for i, c := range table.Columns {
		tc.cols[i] = newColumn(c, fieldNames[i], connector == transform.ConnectorPostgres)
		tc.byName[c.Name] = i
	}
	for _, k := range table.Key {
		if k < 0 || k >= len(tc.cols) {
			return nil, fmt.Errorf("table %s.%s: key column %d out of range", table.Database, table.Name, k)
		}
		tc.keyCols = append(tc.keyCols, tc.cols[k])
	}
	var err error
	ns := namespace(e.prefix, source, table.Database, table.Name)
	if tc.key, tc.value, err = nativeSchemas(ns, tc); err != nil {
		return nil, fmt.Errorf("table %s.%s: %w", table.Database, table.Name, err)
	}
	if len(e.tables) >= maxCachedTables {
		clear(e.tables)
	}
	e.tables[table] = tc
	return tc, nil
}

// Encode returns ev's key and value bodies. ev was built by transform.Build
// from a change on table. Errors name the event id and the column, never a
// value.
func (e *Encoder) Encode(ev *transform.Event, table *capture.Table) (Encoded, error) {
	if ev == nil || table == nil {
		return Encoded{}, errors.New("avro: nil event or table")
	}
	tc, err := e.codec(ev.Source.Name, ev.Source.Connector, table)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return tc.encode(ev, "")
}

// encode writes ev, whose images and key have tc's fields, with entity
// as its "entity" field when tc has one.
func (tc *tableCodec) encode(ev *transform.Event, entity string) (Encoded, error) {
	var err error
	out := Encoded{KeySchema: tc.key, ValueSchema: tc.value}
	var key map[string]any
	if ev.Op != capture.OpTruncate {
		if key, err = tc.keyRecord(ev.Key); err != nil {
			return Encoded{}, fmt.Errorf("encode event %s key: %w", ev.ID, err)
		}
		if out.Key, err = tc.api.Marshal(tc.key.Parsed, key); err != nil {
			return Encoded{}, fmt.Errorf("encode event %s key: %w", ev.ID, err)
		}
	}
	value := map[string]any{"id": ev.ID, "op": string(ev.Op), "source": sourceValue(&ev.Source), "ts_ms": ev.TsMs}
	if tc.entity {
		value["entity"] = entity
	}
	if key != nil {
		value["key"] = &key
	}
	for _, img := range []struct {
		name string
		row  transform.Row
	}{{"before", ev.Before}, {"after", ev.After}} {
		if img.row == nil {
			continue
		}
		r, err := tc.rowRecord(img.row)
		if err != nil {
			return Encoded{}, fmt.Errorf("encode event %s %s: %w", ev.ID, img.name, err)
		}
		value[img.name] = &r
	}
	if !ev.Absent.Empty() {
		absent := map[string]any{"before": nonNil(ev.Absent.Before), "after": nonNil(ev.Absent.After)}
		value["absent"] = &absent
	}
	if out.Value, err = tc.api.Marshal(tc.value.Parsed, value); err != nil {
		return Encoded{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (tc *tableCodec) keyRecord(key transform.Row) (map[string]any, error) {
	if len(key) != len(tc.keyCols) {
		return nil, fmt.Errorf("key has %d fields, the key schema of table %s.%s has %d", len(key), tc.table.Database, tc.table.Name, len(tc.keyCols))
	}
	rec := make(map[string]any, len(key))
	for j, f := range key {
		c := tc.keyCols[j]
		if c.name != f.Name {
			return nil, fmt.Errorf("key field %q is not key field %d (%q) of table %s.%s", f.Name, j, c.name, tc.table.Database, tc.table.Name)
		}
		if f.Value == nil {
			if tc.keyNullable {
				continue
			}
			return nil, fmt.Errorf("key column %q is null", f.Name)
		}
		_, v, err := c.convert(f.Value)
		if err != nil {
			return nil, fmt.Errorf("column %q (%s): %w", c.name, c.sourceType, err)
		}
		rec[c.field] = v
	}
	return rec, nil
}

// rowRecord is an image's Row record: every column, null where the value
// is NULL or absent (absent columns are listed in the event's absent).
func (tc *tableCodec) rowRecord(img transform.Row) (map[string]any, error) {
	rec := make(map[string]any, len(tc.cols))
	for _, f := range img {
		i, ok := tc.byName[f.Name]
		if !ok {
			return nil, fmt.Errorf("field %q is not a field of the schema of table %s.%s", f.Name, tc.table.Database, tc.table.Name)
		}
		c := tc.cols[i]
		if f.Value == nil {
			continue
		}
		_, v, err := c.convert(f.Value)
		if err != nil {
			return nil, fmt.Errorf("column %q (%s): %w", c.name, c.sourceType, err)
		}
		rec[c.field] = v
	}
	return rec, nil
}

func sourceValue(s *transform.Source) map[string]any {
	v := map[string]any{
		"connector": s.Connector, "name": s.Name, "database": s.Database, "table": s.Table,
		"position": s.Position, "ts_ms": s.TsMs, "snapshot": s.Snapshot,
	}
	if s.ServerID != 0 {
		v["server_id"] = int64(s.ServerID)
	}
	if s.GTID != "" {
		v["gtid"] = s.GTID
	}
	if s.TxID != "" {
		v["txid"] = s.TxID
	}
	return v
}
