package capture

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// ErrInvalidUTF8 is returned when a string value, column name or JSON
// document is not valid UTF-8. Sources guarantee valid UTF-8 for text (they
// convert from the column charset); binary data must be passed as []byte.
// Replacing bad bytes with U+FFFD would silently lose data, so the encoder
// refuses instead.
var ErrInvalidUTF8 = errors.New("invalid UTF-8")

const hexDigits = "0123456789abcdef"

// AppendValueJSON appends the JSON encoding of one canonical value (see
// Change), as events carry it:
//
//	nil              null
//	bool             true / false
//	int64, uint64    exact integer digits
//	float32, float64 shortest digits that round-trip at that bit size, in
//	                 the same notation as encoding/json; NaN and ±Inf as the
//	                 strings "NaN", "Infinity", "-Infinity"
//	string           JSON string, must be valid UTF-8
//	[]byte           standard base64 string (nil is "", not null)
//	json.RawMessage  embedded as-is, must be valid JSON and UTF-8
//	[]string         array of strings (nil is [], not null)
//	[]any            array of encoded elements, recursively (PostgreSQL
//	                 arrays; nil is [], not null; Absent is an error)
//
// On error dst is returned unchanged in length.
func AppendValueJSON(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float64:
		return appendFloat(dst, v, 64), nil
	case float32:
		return appendFloat(dst, float64(v), 32), nil
	case string:
		return AppendStringJSON(dst, v)
	case []byte:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"'), nil
	case json.RawMessage:
		if !json.Valid(v) {
			return dst, errors.New("invalid JSON document")
		}
		if !utf8.Valid(v) {
			return dst, fmt.Errorf("JSON document: %w", ErrInvalidUTF8)
		}
		return append(dst, v...), nil
	case []string:
		return AppendStringsJSON(dst, v)
	case []any:
		return appendArray(dst, v)
	default:
		if v == any(Absent) {
			return dst, errors.New("absent value inside a row image")
		}
		return dst, fmt.Errorf("unsupported value type %T", v)
	}
}

// appendFloat writes the shortest decimal that parses back to f at the given
// bit size. Like encoding/json (and ECMAScript), it uses plain notation for
// magnitudes in [1e-6, 1e21) and exponent notation outside, so 1e6 is
// written 1000000 and 1e-7 is written 1e-7.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// Shorten a two-digit negative exponent: 1e-07 becomes 1e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// AppendStringsJSON appends ss as a JSON array of strings; nil is [].
func AppendStringsJSON(dst []byte, ss []string) ([]byte, error) {
	n := len(dst)
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = AppendStringJSON(dst, s); err != nil {
			return dst[:n], fmt.Errorf("array element %d: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}

// appendArray appends vs as a JSON array of encoded values; nil is [].
// Elements may themselves be []any (multi-dimensional arrays).
func appendArray(dst []byte, vs []any) ([]byte, error) {
	n := len(dst)
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = AppendValueJSON(dst, v); err != nil {
			return dst[:n], fmt.Errorf("array element %d: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}

// jsonSafe reports, for each ASCII byte, whether it can appear unescaped in
// a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendStringJSON appends s as a JSON string. Valid UTF-8 is kept as-is
// (emoji, CJK); quotes, backslashes and control characters are escaped, as
// are U+2028 and U+2029 so the output is also valid JavaScript. Invalid UTF-8
// is an error wrapping ErrInvalidUTF8; on error dst is returned unchanged in
// length.
func AppendStringJSON(dst []byte, s string) ([]byte, error) {
	n := len(dst)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip plain ASCII eight bytes at a time: most text needs no escaping.
		for i+8 <= len(s) && plainASCII8(s[i:i+8]) {
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst[:n], fmt.Errorf("string at byte %d: %w", i, ErrInvalidUTF8)
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// plainASCII8 reports whether the 8 bytes of s are all ASCII that needs no
// escaping: none is >= 0x80, < 0x20, '"' or '\\'. It uses the classic
// "has a byte less than n" word trick, which is exact for n <= 128.
func plainASCII8(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	q := w ^ ('"' * lo)
	bs := w ^ ('\\' * lo)
	x := w | ((w - 0x20*lo) &^ w) | ((q - lo) &^ q) | ((bs - lo) &^ bs)
	return x&hi == 0
}
