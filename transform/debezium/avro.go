package debezium

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// AvroSchemas returns the key and value schemas, as JSON values, that
// Confluent's AvroConverter (connect.meta.data on, the default) derives from
// the Connect schemas this encoder writes for table: Debezium's Avro
// envelope <topic.prefix>.<db>.<table>.Envelope with its Value, Source and
// Key records, Connect's names and parameters kept in connect.*
// properties. Names are made Avro names as Debezium's
// schema.name.adjustment.mode=avro does (other characters become '_').
func (e *Encoder) AvroSchemas(src *transform.Source, table *capture.Table) (key, value map[string]any, err error) {
	tc, err := e.codec(src, table)
	if err != nil {
		return nil, nil, err
	}
	row, keyRow := tc.connectRows()
	name := avroAdjust(tc.opts.TopicPrefix + "." + table.Database + "." + table.Name)
	key, _ = (avroNames{}).connectAvro(keySchema(name, keyRow)).(map[string]any)
	value, _ = (avroNames{}).connectAvro(envelopeSchema(tc.opts, name, row)).(map[string]any)
	return key, value, nil
}

// AvroValues returns ev's key (nil for a truncate) and value as generic
// values for AvroSchemas' schemas, in hamba/avro's terms: records as
// map[string]any, nullable records as *map[string]any, other nullable
// members as their plain values.
func (e *Encoder) AvroValues(ev *transform.Event, table *capture.Table) (key, value map[string]any, err error) {
	tc, err := e.codec(&ev.Source, table)
	if err != nil {
		return nil, nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	row, keyRow := tc.connectRows()
	if ev.Op != capture.OpTruncate {
		k := make(transform.Row, len(ev.Key))
		for j, f := range ev.Key {
			i := tc.table.Key[j]
			v, err := tc.convert(i, f.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("encode event %s key: %w", ev.ID, err)
			}
			k[j] = transform.Field{Name: f.Name, Value: v}
		}
		if key, err = structValue(keyRow, k); err != nil {
			return nil, nil, fmt.Errorf("encode event %s key: %w", ev.ID, err)
		}
	}
	value = map[string]any{"op": string(ev.Op), "ts_ms": ev.TsMs, "ts_us": ev.TsMs * 1_000, "ts_ns": ev.TsMs * 1_000_000}
	for _, img := range []struct {
		name  string
		row   transform.Row
		toast bool
	}{{"before", ev.Before, false}, {"after", ev.After, tc.opts.postgres()}} {
		conv, err := tc.image(img.row, img.toast)
		if err != nil {
			return nil, nil, fmt.Errorf("encode event %s %s: %w", ev.ID, img.name, err)
		}
		if conv == nil {
			continue
		}
		m, err := structValue(row, conv)
		if err != nil {
			return nil, nil, fmt.Errorf("encode event %s %s: %w", ev.ID, img.name, err)
		}
		value[img.name] = &m
	}
	src, err := tc.sourceBlock(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("encode event %s source: %w", ev.ID, err)
	}
	if value["source"], err = structValue(sourceSchema(tc.opts).Fields, src); err != nil {
		return nil, nil, fmt.Errorf("encode event %s source: %w", ev.ID, err)
	}
	return key, value, nil
}

// connectRows are the Connect schemas of the table's columns and of its key
// columns.
func (tc *tableCodec) connectRows() (row, key []connectSchema) {
	row = make([]connectSchema, len(tc.columns))
	for i := range tc.columns {
		row[i] = tc.columns[i].schema
	}
	for _, k := range tc.table.Key {
		if k >= 0 && k < len(row) {
			key = append(key, row[k])
		}
	}
	return row, key
}

// avroAdjust makes each dot-separated part of a Connect name an Avro name.
func avroAdjust(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		var b strings.Builder
		if p == "" || p[0] >= '0' && p[0] <= '9' {
			b.WriteByte('_')
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b.WriteByte(c)
			} else {
				b.WriteByte('_')
			}
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, ".")
}

// avroNames are the records one schema has defined: a second use of a
// record (the envelope's after, after before) is its name, as Avro wants.
type avroNames map[string]bool

// connectAvro is the Avro type of Connect schema cs as AvroData writes it
// (the field's optionality aside).
func (seen avroNames) connectAvro(cs connectSchema) any {
	var t map[string]any
	switch cs.Type {
	case typeStruct:
		full := avroAdjust(cs.Name)
		if seen[full] {
			return full
		}
		seen[full] = true
		ns, name := "", full
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns, name = full[:i], full[i+1:]
		}
		fields := make([]any, len(cs.Fields))
		for i, f := range cs.Fields {
			fields[i] = seen.connectField(f)
		}
		t = map[string]any{"type": "record", "name": name, "fields": fields}
		if ns != "" {
			t["namespace"] = ns
		}
	case typeArray:
		items := seen.connectAvro(*cs.Items)
		if cs.Items.Optional {
			items = []any{"null", items}
		}
		t = map[string]any{"type": "array", "items": items}
	case typeInt16, "int8":
		t = map[string]any{"type": "int", "connect.type": cs.Type}
	case typeInt32:
		t = map[string]any{"type": "int"}
	case typeInt64:
		t = map[string]any{"type": "long"}
	case typeFloat32:
		t = map[string]any{"type": "float"}
	case typeFloat64:
		t = map[string]any{"type": "double"}
	default: // boolean, string, bytes
		t = map[string]any{"type": cs.Type}
	}
	if cs.Name != "" {
		t["connect.name"] = cs.Name
	}
	if cs.Version != 0 {
		t["connect.version"] = cs.Version
	}
	if cs.Doc != "" {
		t["connect.doc"] = cs.Doc
	}
	if len(cs.Parameters) > 0 {
		t["connect.parameters"] = cs.Parameters
	}
	if cs.Default != nil && cs.Type != typeStruct {
		t["connect.default"] = cs.Default
	}
	if cs.Name == "org.apache.kafka.connect.data.Decimal" {
		scale, _ := strconv.Atoi(cs.Parameters["scale"])
		precision := 64 // AvroData's default without connect.decimal.precision
		if p, err := strconv.Atoi(cs.Parameters["connect.decimal.precision"]); err == nil {
			precision = p
		}
		t["logicalType"], t["scale"], t["precision"] = "decimal", scale, precision
	}
	if len(t) == 1 && cs.Type != typeStruct && cs.Type != typeArray {
		return cs.Type2Avro()
	}
	return t
}

// Type2Avro is the plain Avro type name of a Connect primitive.
func (cs connectSchema) Type2Avro() string {
	switch cs.Type {
	case typeInt32:
		return "int"
	case typeInt64:
		return "long"
	case typeFloat32:
		return "float"
	case typeFloat64:
		return "double"
	}
	return cs.Type
}

// connectField is a record field: an optional one is ["null", T] with
// default null, or [T, "null"] with its Connect default.
func (seen avroNames) connectField(cs connectSchema) map[string]any {
	t := seen.connectAvro(cs)
	switch {
	case cs.Optional && cs.Default != nil:
		return map[string]any{"name": cs.Field, "type": []any{t, "null"}, "default": cs.Default}
	case cs.Optional:
		return map[string]any{"name": cs.Field, "type": []any{"null", t}, "default": nil}
	}
	return map[string]any{"name": cs.Field, "type": t}
}

// structValue is a Connect struct's value (a row of Connect values) as a
// record value.
func structValue(fields []connectSchema, row transform.Row) (map[string]any, error) {
	out := make(map[string]any, len(fields))
	for i, f := range fields {
		var v any
		if i < len(row) {
			if row[i].Name != f.Field {
				return nil, fmt.Errorf("field %q is not %q", row[i].Name, f.Field)
			}
			v = row[i].Value
		}
		av, err := avroValue(f, v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Field, err)
		}
		out[f.Field] = av
	}
	return out, nil
}

// avroValue is one Connect value as hamba/avro takes it for schema cs.
func avroValue(cs connectSchema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch cs.Type {
	case typeStruct:
		var row transform.Row
		switch x := v.(type) {
		case transform.Row:
			row = x
		case json.RawMessage: // geometry structs, written as JSON by convert
			dec := json.NewDecoder(bytes.NewReader(x))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return nil, err
			}
			for _, f := range cs.Fields {
				fv := m[f.Field]
				if s, ok := fv.(string); ok && f.Type == typeBytes {
					b, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						return nil, err
					}
					fv = b
				}
				row = append(row, transform.Field{Name: f.Field, Value: fv})
			}
		default:
			return nil, fmt.Errorf("want a struct, have %T", v)
		}
		m, err := structValue(cs.Fields, row)
		if err != nil {
			return nil, err
		}
		if cs.Optional {
			return &m, nil
		}
		return m, nil
	case typeArray:
		vs, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want an array, have %T", v)
		}
		out := make([]any, len(vs))
		for i, e := range vs {
			ev, err := avroValue(*cs.Items, e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	case typeInt16, "int8", typeInt32:
		n, err := number(v)
		return int32(n), err
	case typeInt64:
		return number(v)
	case typeFloat32, typeFloat64:
		f, err := float(v)
		if cs.Type == typeFloat32 {
			return float32(f), err
		}
		return f, err
	case typeBytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, fmt.Errorf("want bytes, have %T", v)
		}
		if cs.Name == "org.apache.kafka.connect.data.Decimal" {
			scale, _ := strconv.Atoi(cs.Parameters["scale"])
			n := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
			}
			return new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)), nil
		}
		return b, nil
	}
	return v, nil
}

func number(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	}
	return 0, fmt.Errorf("want an integer, have %T", v)
}

func float(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	}
	return 0, fmt.Errorf("want a float, have %T", v)
}
