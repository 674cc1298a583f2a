package avro

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// The schemas of a mapped table follow the mapping's output
// (mapping.Mapper.OutputSchema), not the table: renamed fields carry their
// new names, dropped columns are left out, masked columns are strings,
// cast columns have the cast's type, added fields their value's, and the
// key record holds the mapped key's fields.

// EncodeMapped returns the key and value bodies of o, one of m's outputs
// for an event built from a change on table. Its record names follow the
// output topic (mappedNamespace). The codec is cached per table version,
// so every call on one Encoder must pass the same m.
func (e *Encoder) EncodeMapped(m *mapping.Mapper, o *mapping.Output, table *capture.Table) (Encoded, error) {
	if o == nil || table == nil {
		return Encoded{}, errors.New("avro: nil output or table")
	}
	ev := &o.Event
	tc, err := e.mappedCodec(m, ev.Source.Name, ev.Source.Connector, table)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return tc.encode(ev, o.Entity)
}

// mappedNamespace is the namespace of a mapped table's records: the output
// topic's name when the mapping routes the table (to an entity or a
// topic), each dot-separated part made an Avro name, so that every table
// routed to one topic names its records alike; otherwise the unmapped
// table's, <prefix>.<source>.<database>.<table>.
func mappedNamespace(prefix, source string, table *capture.Table, shape mapping.Shape) string {
	if shape.Topic != "" {
		return namespace(strings.Split(shape.Topic, ".")...)
	}
	return namespace(prefix, source, table.Database, table.Name)
}

func (e *Encoder) mappedCodec(m *mapping.Mapper, source, connector string, table *capture.Table) (*tableCodec, error) {
	if tc, ok := e.mapped[table]; ok && tc.source == source {
		return tc, nil
	}
	shape, mapped, err := m.OutputSchema(source, table)
	if err != nil {
		return nil, err
	}
	if !mapped {
		return nil, fmt.Errorf("table %s.%s has no mapping", table.Database, table.Name)
	}
	postgres := connector == transform.ConnectorPostgres
	tc := &tableCodec{api: newAPI(), table: table, source: source, byName: make(map[string]int, len(shape.Row)),
		keyNullable: shape.KeyFromFields, entity: shape.Entity != ""}
	tc.cols = mappedColumns(shape.Row, postgres)
	for i, c := range shape.Row {
		tc.byName[c.Name] = i
	}
	tc.keyCols = mappedColumns(shape.Key, postgres)
	ns := mappedNamespace(e.prefix, source, table, shape)
	if tc.key, tc.value, err = nativeSchemas(ns, tc); err != nil {
		return nil, fmt.Errorf("table %s.%s (mapped): %w", table.Database, table.Name, err)
	}
	if len(e.mapped) >= maxCachedTables {
		clear(e.mapped)
	}
	e.mapped[table] = tc
	return tc, nil
}

func mappedColumns(cols []mapping.Column, postgres bool) []column {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	fields := fieldNames(names)
	out := make([]column, len(cols))
	for i, c := range cols {
		out[i] = mappedColumn(c, fields[i], postgres)
	}
	return out
}

// mappedColumn is how one output field of a mapping is written. The
// tributary.type property keeps the source column's type (the canonical
// decoder reads fractional second digits from it); tributary.mapping says
// which rule made the field's type.
func mappedColumn(c mapping.Column, field string, postgres bool) column {
	switch {
	case c.Static:
		col := staticColumn(c.Value)
		col.name, col.field = c.Name, field
		col.props = map[string]any{"tributary.mapping": "add"}
		return col
	case c.Mask != "":
		// Every mask writes a string (hash and keep_last keep NULL null).
		col := column{name: c.Name, field: field, sourceType: c.Type, props: map[string]any{"tributary.mapping": "mask " + string(c.Mask)}}
		col.branches, col.convert = single(stringBranch, toText)
		return col
	case c.Cast.To != "":
		col := castColumn(c, field, postgres)
		col.props = map[string]any{"tributary.mapping": "cast " + string(c.Cast.To)}
		return col
	}
	return newColumn(capture.Column{Name: c.Name, Type: c.Type}, field, postgres)
}

// numberStringBranch holds a JSON number's exact text where no Avro number
// type holds it: the JSON format writes it as a number.
var numberStringBranch = branch{map[string]any{"type": "string", "tributary.format": "number"}, "string"}

func castColumn(c mapping.Column, field string, postgres bool) column {
	col := column{name: c.Name, field: field, sourceType: c.Type}
	t := parseType(c.Type)
	switch c.Cast.To {
	case mapping.CastBool:
		col.branches, col.convert = single(boolBranch, toBool)
	case mapping.CastNumber:
		switch {
		case isDecimal(t, postgres):
			// The exact digits, as decimal(p,s) when it holds them.
			dec := decimalBranch(t.number(0, 10), t.number(1, 0))
			dec.schema.(map[string]any)["tributary.format"] = "number"
			parse := parseDecimal(t.number(1, 0))
			col.branches = []branch{dec, numberStringBranch}
			col.convert = func(v any) (int, any, error) {
				s, err := numberString(v)
				if err != nil {
					return 0, nil, err
				}
				if r, ok := parse(s); ok {
					return 0, r, nil
				}
				return 1, s, nil
			}
		case isNumber(t, postgres):
			// A number already: the cast passes its values unchanged.
			return newColumn(capture.Column{Name: c.Name, Type: c.Type}, field, postgres)
		default:
			col.branches, col.convert = single(numberStringBranch, func(v any) (any, error) { return numberString(v) })
		}
	case mapping.CastTimestamp:
		// RFC 3339 UTC with the source's fractional digits: timestamp-micros
		// where the canonical decoder writes the same digits back (a MySQL
		// DATETIME or TIMESTAMP, which pad to their precision, or any
		// PostgreSQL column, which trims), else the string.
		if postgres {
			col.branches, col.convert = withFallback(tsBranch, parseTimestamp('T', "Z", fraction{trim: true}))
		} else if t.base == "datetime" || t.base == "timestamp" {
			col.branches, col.convert = withFallback(tsBranch, parseTimestamp('T', "Z", fraction{digits: t.number(0, 0)}))
		} else {
			col.branches, col.convert = single(stringBranch, toText)
		}
	default:
		col.branches, col.convert = single(stringBranch, toText)
	}
	return col
}

func isDecimal(t typeName, postgres bool) bool {
	switch t.base {
	case "decimal", "numeric":
		return !t.array && (!postgres || t.hasArgs)
	case "dec", "fixed":
		return !postgres
	}
	return false
}

// isNumber reports whether the source type's values are Go numbers.
func isNumber(t typeName, postgres bool) bool {
	if t.array {
		return false
	}
	if postgres {
		switch t.base {
		case "int2", "smallint", "int4", "integer", "int", "int8", "bigint", "oid", "float4", "real", "float8", "double precision":
			return true
		}
		return false
	}
	switch t.base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year", "float", "double", "real", "bit", "bool", "boolean":
		return true
	}
	return false
}

// numberString is a cast number's value as JSON number text.
func numberString(v any) (string, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return string(v), nil
	case string:
		return v, nil
	case int64, uint64, float32, float64:
		b, err := capture.AppendValueJSON(nil, v)
		return string(b), err
	}
	return "", fmt.Errorf("want a number, have %T", v)
}

// staticColumn types an add rule's value.
func staticColumn(v any) column {
	var col column
	switch v := v.(type) {
	case nil:
		col.convert = func(any) (int, any, error) { return 0, nil, errors.New("a null field with a value") }
	case bool:
		col.branches, col.convert = single(boolBranch, toBool)
	case string:
		col.branches, col.convert = single(stringBranch, toText)
	case int64:
		col.branches, col.convert = single(longBranch, toInt64)
	case uint64:
		if v <= math.MaxInt64 {
			col.branches, col.convert = single(longBranch, toInt64)
			break
		}
		dec := decimalBranch(20, 0)
		dec.schema.(map[string]any)["tributary.format"] = "number"
		col.branches, col.convert = single(dec, toUnsignedDecimal)
	case float64:
		col.branches, col.convert = single(doubleBranch, toFloat64)
	default:
		col.branches, col.convert = single(stringBranch, toText)
	}
	return col
}
