package mapping

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNumberText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"1234.50", "1234.50"}, {"-0.001", "-0.001"}, {"0", "0"}, {"0.00", "0.00"},
		{"18446744073709551616", "18446744073709551616"}, {"99999999999999999999.999999999", "99999999999999999999.999999999"},
		{"+7", "7"}, {"007", "7"}, {"-007.10", "-7.10"}, {".5", "0.5"}, {"5.", "5"}, {"1e10", "1e10"}, {"1.5E-3", "1.5E-3"},
		{"", ""}, {"-", ""}, {".", ""}, {"abc", ""}, {"NaN", ""}, {"Infinity", ""}, {"1,5", ""}, {" 1", ""},
		{"1e", ""}, {"1e+", ""}, {"0x10", ""}, {"1.2.3", ""}, {"--1", ""},
	} {
		got, ok := numberText(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("numberText(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		if ok && !json.Valid([]byte(got)) {
			t.Errorf("numberText(%q) = %q is not JSON", tt.in, got)
		}
	}
}

func TestCasts(t *testing.T) {
	t.Parallel()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ts := func(v any) (any, error) { return castTimestamp(v, berlin) }
	tests := []struct {
		name string
		cast caster
		in   any
		want any    // on success
		err  string // on failure
	}{
		{"bool 0", castBool, int64(0), false, ""},
		{"bool 1", castBool, int64(1), true, ""},
		{"bool unsigned", castBool, uint64(1), true, ""},
		{"bool passes bool", castBool, true, true, ""},
		{"bool null", castBool, nil, nil, ""},
		{"bool 2", castBool, int64(2), nil, "want an integer 0 or 1, got another integer"},
		{"bool -1", castBool, int64(-1), nil, "want an integer 0 or 1, got another integer"},
		{"bool string", castBool, "1", nil, "want an integer 0 or 1, got a string"},
		{"number decimal", castNumber, "1234.50", json.RawMessage("1234.50"), ""},
		{"number int passes", castNumber, int64(5), int64(5), ""},
		{"number null", castNumber, nil, nil, ""},
		{"number not numeric", castNumber, "12abc", nil, "want a numeric string, got a string that is not a decimal number"},
		{"number NaN", castNumber, "NaN", nil, "want a numeric string, got a string that is not a decimal number"},
		{"number bool", castNumber, true, nil, "want a numeric string, got a boolean"},
		{"number binary", castNumber, []byte("1"), nil, "want a numeric string, got binary data"},
		{"timestamp summer", ts, "2024-07-01 12:00:00", "2024-07-01T10:00:00Z", ""},
		{"timestamp winter", ts, "2024-01-31 23:59:59.5", "2024-01-31T22:59:59.5Z", ""},
		{"timestamp T and micros", ts, "2024-07-01T00:30:00.000001", "2024-06-30T22:30:00.000001Z", ""},
		{"timestamp nanos", ts, "2024-07-01 12:00:00.123456789", "2024-07-01T10:00:00.123456789Z", ""},
		{"timestamp repeated hour: earlier instant", ts, "2024-10-27 02:30:00", "2024-10-27T00:30:00Z", ""},
		{"timestamp after the repeated hour", ts, "2024-10-27 03:30:00", "2024-10-27T02:30:00Z", ""},
		{"timestamp skipped hour", ts, "2024-03-31 02:30:00", nil, "the wall-clock time does not exist in Europe/Berlin (clocks went forward)"},
		{"timestamp null", ts, nil, nil, ""},
		{"timestamp zero date", ts, "0000-00-00 00:00:00", nil, "the zero date is not an instant"},
		{"timestamp date only", ts, "2024-07-01", nil, `want a naive datetime "YYYY-MM-DD hh:mm:ss[.fraction]"`},
		{"timestamp with zone", ts, "2024-07-01T10:00:00Z", nil, `want a naive datetime`},
		{"timestamp Feb 30", ts, "2024-02-30 10:00:00", nil, `want a naive datetime`},
		{"timestamp 25h", ts, "2024-02-03 25:00:00", nil, `want a naive datetime`},
		{"timestamp integer", ts, int64(5), nil, "want a naive datetime string, got an integer"},
	}
	for _, tt := range tests {
		got, err := tt.cast(tt.in)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, %v; want error %q", tt.name, got, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		default:
			if g, w := mustEncode(t, got), mustEncode(t, tt.want); g != w {
				t.Errorf("%s: got %s, want %s", tt.name, g, w)
			}
		}
	}
}

func TestKeepLast(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   any
		n    int
		want any
	}{
		{"+49 170 1234567", 4, "***********4567"},
		{"1234", 4, "****"},
		{"12", 4, "**"},
		{"", 4, ""},
		{"李小龍📦", 2, "**龍📦"},
		{int64(-123456), 2, "*****56"},
		{uint64(18446744073709551615), 3, "*****************615"},
		{json.RawMessage("1234.50"), 2, "*****50"},
		{nil, 4, nil},
	} {
		got, err := keepLast(tt.in, tt.n)
		if err != nil || got != tt.want {
			t.Errorf("keepLast(%v, %d) = %v, %v; want %v", tt.in, tt.n, got, err, tt.want)
		}
	}
	for _, in := range []any{true, 1.5, []byte("x"), []string{"a"}, json.RawMessage(`{"a":1}`)} {
		if _, err := keepLast(in, 2); err == nil {
			t.Errorf("keepLast(%T) succeeded", in)
		}
	}
}

func TestHashMask(t *testing.T) {
	t.Parallel()
	h := hashMask([]byte(testSalt))
	for _, tt := range []struct {
		in      any
		encoded string
	}{
		{"zoe@example.com", `"zoe@example.com"`},
		{int64(42), `42`},
		{"42", `"42"`},
		{json.RawMessage("1234.50"), `1234.50`},
		{[]byte{0, 1}, `"AAE="`},
		{strings.Repeat("long ", 100), `"` + strings.Repeat("long ", 100) + `"`},
	} {
		got, err := h(tt.in)
		if err != nil || got != hmacHex(tt.encoded) {
			t.Errorf("hash(%v) = %v, %v; want HMAC of %s", tt.in, got, err, tt.encoded)
		}
	}
	if got, _ := h(nil); got != nil {
		t.Errorf("hash(nil) = %v, want nil", got)
	}
	if _, err := h("bad \xff"); err == nil {
		t.Error("hash of invalid UTF-8 succeeded")
	}
}

func mustEncode(t *testing.T, v any) string {
	t.Helper()
	b, err := encodeValue(nil, v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return string(b)
}
