package avro

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
)

// CanonicalJSON writes a native-flavour event, decoded by hamba/avro's
// generic decoding with the schema s it was written with, as the JSON
// format writes the same event (docs/events.md), byte for byte: tail,
// verify and the accuracy checks read Avro topics through it. It relies on
// the schema alone (logical types, tributary.type, tributary.column,
// tributary.format), so it decodes every version a registry holds, and a
// mapped table's events as the JSON format writes the mapped event.
func CanonicalJSON(s avro.Schema, v map[string]any) ([]byte, error) {
	rec, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("avro: event schema is %s, want a record", s.Type())
	}
	w := canonicalWriter{}
	src, _ := v["source"].(map[string]any)
	w.postgres = src["connector"] == "postgres"
	fields := map[string]*avro.Field{}
	for _, f := range rec.Fields() {
		fields[f.Name()] = f
	}
	for _, name := range []string{"id", "op", "key", "before", "after", "source", "ts_ms"} {
		if fields[name] == nil {
			return nil, fmt.Errorf("avro: event schema %s has no field %s: not a Tributary native event", rec.FullName(), name)
		}
	}
	b := []byte(`{"id":`)
	b, _ = capture.AppendStringJSON(b, fmt.Sprint(v["id"]))
	b = append(b, `,"op":`...)
	b, _ = capture.AppendStringJSON(b, fmt.Sprint(v["op"]))
	if fields["entity"] != nil { // a mapping's entity
		b = append(b, `,"entity":`...)
		b, _ = capture.AppendStringJSON(b, fmt.Sprint(v["entity"]))
	}
	b = append(b, `,"key":`...)
	var err error
	if v["key"] == nil {
		b = append(b, "{}"...)
	} else if b, err = w.row(b, fields["key"].Type(), v["key"]); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	for _, img := range []string{"before", "after"} {
		b = append(b, `,"`+img+`":`...)
		if b, err = w.row(b, fields[img].Type(), v[img]); err != nil {
			return nil, fmt.Errorf("%s: %w", img, err)
		}
	}
	if abs, ok := unwrapMember(v["absent"]).(map[string]any); ok {
		b = append(b, `,"absent":{"before":`...)
		b = appendStrings(b, abs["before"])
		b = append(b, `,"after":`...)
		b = appendStrings(b, abs["after"])
		b = append(b, '}')
	}
	b = append(b, `,"source":{"connector":`...)
	b, _ = capture.AppendStringJSON(b, fmt.Sprint(src["connector"]))
	b = append(b, `,"name":`...)
	b, _ = capture.AppendStringJSON(b, fmt.Sprint(src["name"]))
	if id, ok := unwrapMember(src["server_id"]).(int64); ok && id != 0 {
		b = append(b, `,"server_id":`...)
		b = strconv.AppendInt(b, id, 10)
	}
	for _, f := range [][2]string{{"database", "database"}, {"table", "table"}, {"position", "position"}} {
		b = append(b, `,"`+f[0]+`":`...)
		b, _ = capture.AppendStringJSON(b, fmt.Sprint(src[f[1]]))
	}
	for _, f := range []string{"gtid", "txid"} {
		if s, ok := unwrapMember(src[f]).(string); ok && s != "" {
			b = append(b, `,"`+f+`":`...)
			b, _ = capture.AppendStringJSON(b, s)
		}
	}
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, toI64(src["ts_ms"]), 10)
	b = append(b, `,"snapshot":`...)
	b = strconv.AppendBool(b, src["snapshot"] == true)
	b = append(b, `},"ts_ms":`...)
	b = strconv.AppendInt(b, toI64(v["ts_ms"]), 10)
	return append(b, '}'), nil
}

// CanonicalKeyJSON writes a decoded key record as the JSON format's key.
func CanonicalKeyJSON(s avro.Schema, v map[string]any) ([]byte, error) {
	return (&canonicalWriter{}).row(nil, s, v)
}

type canonicalWriter struct{ postgres bool }

func toI64(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	}
	return 0
}

func appendStrings(b []byte, v any) []byte {
	items, _ := v.([]any)
	ss := make([]string, 0, len(items))
	for _, it := range items {
		ss = append(ss, fmt.Sprint(it))
	}
	b, _ = capture.AppendStringsJSON(b, ss)
	return b
}

// unwrapMember is the value of a union member hamba/avro returned as
// {"<member name>": value}.
func unwrapMember(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			if strings.Contains(k, ".") || isPrimitiveName(k) {
				return inner
			}
		}
	}
	return v
}

func isPrimitiveName(s string) bool {
	switch s {
	case "string", "long", "int", "double", "float", "boolean", "bytes", "array", "map":
		return true
	}
	return false
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// nonNull is the record member of a ["null", record] union.
func nonNull(s avro.Schema) avro.Schema {
	if u, ok := s.(*avro.UnionSchema); ok {
		for _, m := range u.Types() {
			if m.Type() != avro.Null {
				return deref(m)
			}
		}
	}
	return deref(s)
}

// row writes a Row or Key record in field order, null for a nil image.
func (w *canonicalWriter) row(b []byte, s avro.Schema, v any) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	rec, ok := nonNull(s).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("image schema is not a record")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("image is %T, want a record", v)
	}
	if inner, ok := m[rec.FullName()].(map[string]any); ok && len(m) == 1 {
		m = inner // a union member hamba/avro did not resolve
	}
	b = append(b, '{')
	for i, f := range rec.Fields() {
		if i > 0 {
			b = append(b, ',')
		}
		name := f.Name()
		if orig, ok := f.Prop("tributary.column").(string); ok {
			name = orig
		}
		b, _ = capture.AppendStringJSON(b, name)
		b = append(b, ':')
		srcType, _ := f.Prop("tributary.type").(string)
		var err error
		if b, err = w.value(b, f.Type(), srcType, m[f.Name()]); err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
	}
	return append(b, '}'), nil
}

// value writes one column value of schema s as the JSON format does.
func (w *canonicalWriter) value(b []byte, s avro.Schema, srcType string, v any) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for name, inner := range m {
				if member, _ := u.Types().Get(name); member != nil {
					return w.value(b, member, srcType, inner)
				}
			}
		}
		for _, m := range u.Types() {
			if m.Type() == avro.Null {
				continue
			}
			if _, isString := v.(string); isString == (m.Type() == avro.String) {
				return w.value(b, m, srcType, v)
			}
		}
		return nil, fmt.Errorf("no union member for %T", v)
	}
	logical := ""
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		logical = string(l.Logical().Type())
	}
	f := w.fraction(srcType)
	switch v := v.(type) {
	case string:
		if p, ok := s.(*avro.PrimitiveSchema); ok && (p.Prop("tributary.format") == "json" || p.Prop("tributary.format") == "number") {
			return append(b, v...), nil
		}
		return capture.AppendStringJSON(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case bool, float32, float64, []byte:
		return capture.AppendValueJSON(b, v)
	case *big.Rat:
		dec, ok := s.(*avro.PrimitiveSchema).Logical().(*avro.DecimalLogicalSchema)
		if !ok {
			return nil, fmt.Errorf("a decimal without its logical type")
		}
		if s.(*avro.PrimitiveSchema).Prop("tributary.format") == "number" {
			return append(b, v.FloatString(dec.Scale())...), nil // a mapping's cast to number
		}
		if t := parseType(srcType); t.base == "bigint" || t.base == "bit" {
			return append(b, v.FloatString(0)...), nil // a JSON number
		}
		return capture.AppendStringJSON(b, v.FloatString(dec.Scale()))
	case time.Duration:
		return capture.AppendStringJSON(b, formatTime(v.Microseconds(), f))
	case time.Time:
		switch logical {
		case "date":
			return capture.AppendStringJSON(b, v.UTC().Format("2006-01-02"))
		case "timestamp-micros":
			return capture.AppendStringJSON(b, formatTimestamp(v.UnixMicro(), 'T', "Z", f))
		case "local-timestamp-micros":
			return capture.AppendStringJSON(b, formatTimestamp(v.UnixMicro(), ' ', "", f))
		}
		return nil, fmt.Errorf("a time for logical type %q", logical)
	case []any:
		arr, ok := s.(*avro.ArraySchema)
		if !ok {
			return nil, fmt.Errorf("an array for a %s", s.Type())
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = w.value(b, arr.Items(), strings.TrimSuffix(srcType, "[]"), e); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("unexpected decoded %T", v)
}

func (w *canonicalWriter) fraction(srcType string) fraction {
	if w.postgres {
		return fraction{trim: true}
	}
	return fraction{digits: parseType(srcType).number(0, 0)}
}
