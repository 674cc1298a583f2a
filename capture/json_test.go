package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestAppendValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"null", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"int64 zero", int64(0), `0`},
		{"int64 min", int64(math.MinInt64), `-9223372036854775808`},
		{"int64 max", int64(math.MaxInt64), `9223372036854775807`},
		{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`},
		{"float64", 3.25, `3.25`},
		{"float64 shortest", 0.1, `0.1`},
		{"float64 negative zero", math.Copysign(0, -1), `-0`},
		{"float64 large plain", 1e20, `100000000000000000000`},
		{"float64 large exp", 1e21, `1e+21`},
		{"float64 small exp", 1e-7, `1e-7`},
		{"float64 max", math.MaxFloat64, `1.7976931348623157e+308`},
		{"float32 shortest", float32(0.1), `0.1`},
		{"float32 max", float32(math.MaxFloat32), `3.4028235e+38`},
		{"NaN", math.NaN(), `"NaN"`},
		{"+Inf", math.Inf(1), `"Infinity"`},
		{"-Inf", math.Inf(-1), `"-Infinity"`},
		{"float32 -Inf", float32(math.Inf(-1)), `"-Infinity"`},
		{"empty string", "", `""`},
		{"ascii", "hello", `"hello"`},
		{"emoji kept", "ok 👍", `"ok 👍"`},
		{"CJK kept", "数据库", `"数据库"`},
		{"U+FFFD kept", "\uFFFD", "\"\uFFFD\""},
		{"quote backslash", `a"b\c`, `"a\"b\\c"`},
		{"controls", "\n\r\t\b\f\x00\x1f", `"\n\r\t\b\f\u0000\u001f"`},
		{"html not escaped", "<a&b>", `"<a&b>"`},
		{"line separators", "a\u2028b\u2029", `"a\u2028b\u2029"`},
		{"DECIMAL string", "12.50", `"12.50"`},
		{"bytes", []byte{0, 1, 0xff}, `"AAH/"`},
		{"bytes empty", []byte{}, `""`},
		{"bytes nil is empty, not null", []byte(nil), `""`},
		{"raw JSON", json.RawMessage(`{"a":[1,2,{"b":null}]}`), `{"a":[1,2,{"b":null}]}`},
		{"raw JSON scalar", json.RawMessage(`"x"`), `"x"`},
		{"SET labels", []string{"a", "b c"}, `["a","b c"]`},
		{"SET empty", []string{}, `[]`},
		{"SET nil is empty, not null", []string(nil), `[]`},
		{"array", []any{int64(1), nil, "x", 1.5, []byte{1}, json.RawMessage(`{"a":1}`)}, `[1,null,"x",1.5,"AQ==",{"a":1}]`},
		{"array nested", []any{[]any{int64(1), int64(2)}, []any{}}, `[[1,2],[]]`},
		{"array nil is empty, not null", []any(nil), `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AppendValueJSON([]byte("x"), tt.in)
			if err != nil {
				t.Fatalf("AppendValueJSON(%#v): %v", tt.in, err)
			}
			if string(got) != "x"+tt.want {
				t.Errorf("AppendValueJSON(%#v) = %s, want x%s", tt.in, got, tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("invalid JSON: %s", got[1:])
			}
		})
	}
}

// TestAppendValueMatchesEncodingJSON checks the hand-written encoder against
// encoding/json (without HTML escaping) for the types both handle alike.
func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false,
		int64(-1), int64(math.MinInt64), int64(math.MaxInt64), uint64(math.MaxUint64),
		0.0, 1.0, -1.5, 0.1, 1e6, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64,
		float32(0.1), float32(1e-7), float32(16777216), float32(math.SmallestNonzeroFloat32),
		"", "plain", "ünïcödé 👍 数据", "\x00\x01\x1f\x7f", `"\/`, "\u2028\u2029", "<>&",
		[]byte("binary\x00\xff"), []byte{},
		json.RawMessage(`[1,"two",{"3":true}]`),
		[]string{"x", "y\"z"},
	}
	for _, v := range values {
		got, err := AppendValueJSON(nil, v)
		if err != nil {
			t.Fatalf("AppendValueJSON(%#v): %v", v, err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatalf("encoding/json(%#v): %v", v, err)
		}
		if w := strings.TrimSuffix(want.String(), "\n"); string(got) != w {
			t.Errorf("AppendValueJSON(%#v) = %s, encoding/json = %s", v, got, w)
		}
	}
}

func TestAppendFloatRoundTrips(t *testing.T) {
	t.Parallel()
	f64 := []float64{0.1, 1.0 / 3, 2.5e-300, 1.7976931348623157e308, 5e-324, -123.456e10, 9007199254740993}
	for _, f := range f64 {
		got := appendFloat(nil, f, 64)
		back, err := strconv.ParseFloat(string(got), 64)
		if err != nil || back != f {
			t.Errorf("float64 %v encoded %s parsed back %v (%v)", f, got, back, err)
		}
	}
	f32 := []float32{0.1, 1.0 / 3, 3.4028235e38, 1.4e-45, -7.25}
	for _, f := range f32 {
		got := appendFloat(nil, float64(f), 32)
		back, err := strconv.ParseFloat(string(got), 32)
		if err != nil || float32(back) != f {
			t.Errorf("float32 %v encoded %s parsed back %v (%v)", f, got, back, err)
		}
	}
}

func TestAppendValueErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      any
		wantErr string
		isUTF8  bool
	}{
		{"invalid UTF-8", "ab\xffc", "invalid UTF-8", true},
		{"truncated rune", "\xe2\x82", "invalid UTF-8", true},
		{"surrogate half", "\xed\xa0\x80", "invalid UTF-8", true},
		{"invalid UTF-8 in SET", []string{"ok", "\xc3"}, "array element 1", true},
		{"invalid raw JSON", json.RawMessage(`{"a":`), "invalid JSON document", false},
		{"empty raw JSON", json.RawMessage(``), "invalid JSON document", false},
		{"invalid UTF-8 in raw JSON", json.RawMessage("\"\xff\""), "invalid UTF-8", true},
		{"int is not canonical", 42, "unsupported value type int", false},
		{"map", map[string]any{}, "unsupported value type map[string]interface {}", false},
		{"absent", Absent, "absent value inside a row image", false},
		{"invalid UTF-8 in array", []any{"ok", []any{"\xc3"}}, "array element 1: array element 0", true},
		{"absent in array", []any{Absent}, "array element 0: absent value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AppendValueJSON([]byte("keep"), tt.in)
			if err == nil {
				t.Fatalf("AppendValueJSON(%#v) = %s, want error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrInvalidUTF8) != tt.isUTF8 {
				t.Errorf("errors.Is(%v, ErrInvalidUTF8) = %v, want %v", err, !tt.isUTF8, tt.isUTF8)
			}
			if string(got) != "keep" {
				t.Errorf("dst after error = %q, want it unchanged", got)
			}
		})
	}
}

func TestPlainASCII8(t *testing.T) {
	t.Parallel()
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
			if got := plainASCII8(string(b)); got != want {
				t.Fatalf("plainASCII8(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// TestAppendStringEveryPosition puts each interesting byte sequence at every
// offset of a long ASCII string, across the 8-byte fast path boundaries.
func TestAppendStringEveryPosition(t *testing.T) {
	t.Parallel()
	specials := []string{`"`, `\`, "\n", "\x00", "\x7f", "é", "👍", "\u2028", "<"}
	base := strings.Repeat("abcdefgh", 3)
	for _, sp := range specials {
		for pos := 0; pos <= len(base); pos++ {
			s := base[:pos] + sp + base[pos:]
			got, err := AppendStringJSON(nil, s)
			if err != nil {
				t.Fatalf("AppendStringJSON(%q): %v", s, err)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			if string(got) != strings.TrimSuffix(want.String(), "\n") {
				t.Fatalf("AppendStringJSON(%q) = %s, encoding/json = %s", s, got, want.String())
			}
		}
		bad := base[:9] + "\xff" + base[9:]
		if _, err := AppendStringJSON(nil, bad); !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("AppendStringJSON(%q) error = %v, want ErrInvalidUTF8", bad, err)
		}
	}
}
