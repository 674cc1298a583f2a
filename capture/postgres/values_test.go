package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	b := builtinTypes
	enum := &pgType{name: "mood", kind: kindString}
	tests := []struct {
		name string
		typ  *pgType
		in   string
		want any
	}{
		{"int2", b[pgtype.Int2OID], "-32768", int64(-32768)},
		{"int8 min", b[pgtype.Int8OID], "-9223372036854775808", int64(math.MinInt64)},
		{"oid", b[pgtype.OIDOID], "4294967295", int64(4294967295)},
		{"float4", b[pgtype.Float4OID], "0.1", float32(0.1)},
		{"float4 -inf", b[pgtype.Float4OID], "-Infinity", float32(math.Inf(-1))},
		{"float8", b[pgtype.Float8OID], "0.30000000000000004", 0.30000000000000004},
		{"float8 inf", b[pgtype.Float8OID], "Infinity", math.Inf(1)},
		{"numeric exact", b[pgtype.NumericOID], "1234567890123456789012345678901234567890.5", "1234567890123456789012345678901234567890.5"},
		{"numeric NaN", b[pgtype.NumericOID], "NaN", "NaN"},
		{"bool", b[pgtype.BoolOID], "t", true},
		{"text", b[pgtype.TextOID], "😀 漢字", "😀 漢字"},
		{"bytea", b[pgtype.ByteaOID], `\x00ff`, []byte{0, 0xff}},
		{"bytea empty", b[pgtype.ByteaOID], `\x`, []byte{}},
		{"timestamptz", b[pgtype.TimestamptzOID], "2024-01-31 23:59:59.123456+00", "2024-01-31T23:59:59.123456Z"},
		{"timestamptz whole", b[pgtype.TimestamptzOID], "2024-01-31 23:59:59+00", "2024-01-31T23:59:59Z"},
		{"timestamptz infinity", b[pgtype.TimestamptzOID], "infinity", "infinity"},
		{"timestamptz BC", b[pgtype.TimestamptzOID], "0044-03-15 12:00:00+00 BC", "0044-03-15 12:00:00+00 BC"},
		{"timestamp naive", b[pgtype.TimestampOID], "2024-01-31 23:59:59.123456", "2024-01-31 23:59:59.123456"},
		{"interval", b[pgtype.IntervalOID], "P1Y2M3DT4H5M6.5S", "P1Y2M3DT4H5M6.5S"},
		{"jsonb", b[pgtype.JSONBOID], `{"a": [1, null]}`, json.RawMessage(`{"a": [1, null]}`)},
		{"int4[] with NULL", b[pgtype.Int4ArrayOID], "{1,NULL,-3}", []any{int64(1), nil, int64(-3)}},
		{"int4[][]", b[pgtype.Int4ArrayOID], "{{1,2},{3,4}}", []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}}},
		{"int4[] bounds", b[pgtype.Int4ArrayOID], "[0:1]={5,6}", []any{int64(5), int64(6)}},
		{"empty array", b[pgtype.TextArrayOID], "{}", []any{}},
		{"text[] quoting", b[pgtype.TextArrayOID], `{a,"b c","q\"\\",NULL,"NULL",""}`, []any{"a", "b c", `q"\`, nil, "NULL", ""}},
		{"bytea[]", b[pgtype.ByteaArrayOID], `{"\\x01ff"}`, []any{[]byte{1, 0xff}}},
		{"float8[] NaN", b[pgtype.Float8ArrayOID], `{NaN,1.5}`, []any{math.NaN(), 1.5}},
		{"timestamptz[]", b[pgtype.TimestamptzArrayOID], `{"2024-01-31 23:59:59+00"}`, []any{"2024-01-31T23:59:59Z"}},
		{"enum[]", &pgType{name: "mood[]", kind: kindArray, elem: enum}, "{sad,happy}", []any{"sad", "happy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.typ.decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("decode(%q): %v", tt.in, err)
			}
			if !equalNaN(got, tt.want) {
				t.Errorf("decode(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// equalNaN is reflect.DeepEqual where NaN equals NaN.
func equalNaN(a, b any) bool {
	switch a := a.(type) {
	case float64:
		if bf, ok := b.(float64); ok && math.IsNaN(a) && math.IsNaN(bf) {
			return true
		}
	case float32:
		if bf, ok := b.(float32); ok && math.IsNaN(float64(a)) && math.IsNaN(float64(bf)) {
			return true
		}
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equalNaN(a[i], bs[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	b := builtinTypes
	for _, tt := range []struct {
		typ *pgType
		in  string
	}{
		{b[pgtype.Int4OID], "x"},
		{b[pgtype.BoolOID], "yes"},
		{b[pgtype.ByteaOID], "abc"},
		{b[pgtype.Int4ArrayOID], "{1,2"},
		{b[pgtype.Int4ArrayOID], "{1,,2}"},
		{b[pgtype.TextArrayOID], `{"a}`},
		{b[pgtype.TextArrayOID], `{a}x`},
	} {
		if v, err := tt.typ.decode([]byte(tt.in)); err == nil {
			t.Errorf("%s decode(%q) = %#v, want error", tt.typ.name, tt.in, v)
		}
	}
}

func TestResolveCatalog(t *testing.T) {
	t.Parallel()
	catalog := map[uint32]catalogType{
		900: {name: "mood", typtype: "e"},
		901: {name: "_mood", typtype: "b", category: "A", elem: 900},
		902: {name: "posint", typtype: "d", base: pgtype.Int4OID},
		903: {name: "box", typtype: "b", category: "G"},
		904: {name: "_box", typtype: "b", category: "A", elem: 903},
	}
	calls := 0
	r := typeResolver{lookup: func(_ context.Context, oid uint32) (catalogType, error) {
		calls++
		return catalog[oid], nil
	}}
	for oid, want := range map[uint32]string{900: "mood/0", 901: "mood[]/8", 902: "posint/1", 903: "box/0", 904: "box[]/0"} {
		got, err := r.resolve(context.Background(), oid)
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprintf("%s/%d", got.name, got.kind); s != want {
			t.Errorf("resolve(%d) = %s, want %s", oid, s, want)
		}
	}
	before := calls
	r.resolve(context.Background(), 901)
	if calls != before {
		t.Error("resolve did not cache")
	}
}
