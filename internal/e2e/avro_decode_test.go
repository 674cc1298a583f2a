package e2e

// An Avro decoder for the tests that is independent of the producer's
// code: it fetches each message's schema by id from the registry
// (hamba/avro's registry client) and decodes with the library's generic
// decoding, then writes each column as the JSON format would, from the
// registered schema alone (its logical types and the tributary.type
// property), so that it can be compared with the JSON format's events.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"
)

type avroDecoder struct {
	reg      *registry.Client
	postgres bool
	apis     map[int]avro.API // one per schema id: hamba caches codecs by fingerprint
}

func newAvroDecoder(t *testing.T, url string, postgres bool) *avroDecoder {
	t.Helper()
	reg, err := registry.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	return &avroDecoder{reg: reg, postgres: postgres, apis: map[int]avro.API{}}
}

// decode returns a message's schema id, schema and generic value.
func (d *avroDecoder) decode(t *testing.T, msg []byte) (int, avro.Schema, map[string]any) {
	t.Helper()
	if len(msg) < 5 || msg[0] != 0 {
		t.Fatalf("not in the Confluent wire format: % x", msg[:min(len(msg), 8)])
	}
	id := int(binary.BigEndian.Uint32(msg[1:5]))
	s, err := d.reg.GetSchema(context.Background(), id)
	if err != nil {
		t.Fatalf("fetch schema %d: %v", id, err)
	}
	api, ok := d.apis[id]
	if !ok {
		api = avro.Config{}.Freeze()
		d.apis[id] = api
	}
	var v map[string]any
	if err := api.Unmarshal(s, msg[5:], &v); err != nil {
		t.Fatalf("decode with schema %d: %v", id, err)
	}
	return id, s, v
}

// canonicalImage writes a decoded Row record as the JSON format's image:
// an object of every column in schema order, or null.
func (d *avroDecoder) canonicalImage(t *testing.T, s avro.Schema, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	rec, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("image is %T", v)
	}
	row := unwrapNullable(s).(*avro.RecordSchema)
	if inner, ok := rec[row.FullName()]; ok && len(rec) == 1 {
		rec = inner.(map[string]any) // a union member hamba did not resolve
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range row.Fields() {
		if i > 0 {
			b.WriteByte(',')
		}
		name := f.Name()
		if orig, ok := f.Prop("tributary.column").(string); ok {
			name = orig
		}
		n, _ := json.Marshal(name)
		b.Write(n)
		b.WriteByte(':')
		srcType, _ := f.Prop("tributary.type").(string)
		b.WriteString(d.value(t, f.Type(), srcType, rec[f.Name()]))
	}
	b.WriteByte('}')
	return b.String()
}

// unwrapNullable is the non-null member of a ["null", T] union.
func unwrapNullable(s avro.Schema) avro.Schema {
	if u, ok := s.(*avro.UnionSchema); ok {
		for _, m := range u.Types() {
			if m.Type() != avro.Null {
				return deref(m)
			}
		}
	}
	return deref(s)
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// value is the JSON format's text of one decoded value of schema s.
func (d *avroDecoder) value(t *testing.T, s avro.Schema, srcType string, v any) string {
	t.Helper()
	if v == nil {
		return "null"
	}
	if u, ok := s.(*avro.UnionSchema); ok {
		// hamba resolves a union member it knows a Go type for; others
		// (local-timestamp-micros) come as {"<member name>": value}.
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for name, inner := range m {
				for _, member := range u.Types() {
					if memberName(member) == name {
						return d.value(t, member, srcType, inner)
					}
				}
			}
		}
		var member avro.Schema
		for _, m := range u.Types() {
			if m.Type() == avro.Null {
				continue
			}
			if _, isStr := v.(string); isStr == (m.Type() == avro.String) {
				member = m
				break
			}
		}
		if member == nil {
			t.Fatalf("no union member of %s for %T", s, v)
		}
		return d.value(t, member, srcType, v)
	}
	frac := d.fraction(srcType)
	logical := ""
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		logical = string(l.Logical().Type())
	}
	switch v := v.(type) {
	case string:
		if p, ok := s.(*avro.PrimitiveSchema); ok && (p.Prop("tributary.format") == "json" || p.Prop("tributary.format") == "number") {
			return v // JSON text: a document, or a mapping's cast to number
		}
		b, _ := json.Marshal(v)
		return string(bytes.ReplaceAll(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<")), []byte(`\u003e`), []byte(">")), []byte(`\u0026`), []byte("&")))
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.Itoa(int(v))
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case float32:
		return jsonFloat(float64(v), 32)
	case float64:
		return jsonFloat(v, 64)
	case []byte:
		return `"` + base64.StdEncoding.EncodeToString(v) + `"`
	case *big.Rat:
		scale := s.(*avro.PrimitiveSchema).Logical().(*avro.DecimalLogicalSchema).Scale()
		if s.(*avro.PrimitiveSchema).Prop("tributary.format") == "number" {
			return v.FloatString(scale) // a mapping's cast to number: a JSON number
		}
		if strings.HasPrefix(srcType, "bigint") || strings.HasPrefix(srcType, "bit") {
			return v.FloatString(0) // BIGINT UNSIGNED and BIT(64) are JSON numbers
		}
		return `"` + v.FloatString(scale) + `"`
	case time.Duration:
		us := v.Microseconds()
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		sec := us / 1_000_000
		return fmt.Sprintf(`"%s%02d:%02d:%02d%s"`, sign, sec/3600, sec/60%60, sec%60, frac(us%1_000_000))
	case time.Time:
		switch logical {
		case "date":
			return `"` + v.UTC().Format("2006-01-02") + `"`
		case "timestamp-micros":
			u := v.UTC()
			return `"` + u.Format("2006-01-02T15:04:05") + frac(int64(u.Nanosecond()/1000)) + `Z"`
		case "local-timestamp-micros":
			u := time.UnixMicro(v.UnixMicro()).UTC() // the wall clock, read as UTC
			return `"` + u.Format("2006-01-02 15:04:05") + frac(int64(u.Nanosecond()/1000)) + `"`
		}
		t.Fatalf("time.Time for logical type %q", logical)
	case []any:
		items := s.(*avro.ArraySchema).Items()
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = d.value(t, items, elemType(srcType), e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	t.Fatalf("unexpected decoded %T for %s", v, s)
	return ""
}

func elemType(s string) string { return strings.TrimSuffix(s, "[]") }

func memberName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// fraction writes microseconds as the JSON format does: MySQL pads to the
// column's fractional precision, PostgreSQL trims trailing zeros.
func (d *avroDecoder) fraction(srcType string) func(int64) string {
	if d.postgres {
		return func(us int64) string {
			if us == 0 {
				return ""
			}
			return strings.TrimRight(fmt.Sprintf(".%06d", us), "0")
		}
	}
	fsp := 0
	if i := strings.IndexByte(srcType, '('); i >= 0 {
		fsp, _ = strconv.Atoi(strings.TrimSuffix(srcType[i+1:], ")"))
	}
	return func(us int64) string {
		if fsp == 0 {
			return ""
		}
		return fmt.Sprintf(".%06d", us)[:1+fsp]
	}
}

// jsonFloat is the JSON format's float text (shortest round trip, "NaN"
// and "±Infinity" as strings, exponents beyond 1e21 and below 1e-6).
func jsonFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"Infinity"`
	case math.IsInf(f, -1):
		return `"-Infinity"`
	}
	abs := math.Abs(f)
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		s := strconv.FormatFloat(f, 'e', -1, bits)
		return strings.Replace(strings.Replace(s, "e-0", "e-", 1), "e+0", "e+", 1)
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

type (
	avroSchema = avro.Schema
	avroField  = avro.Field
)
