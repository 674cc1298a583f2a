package postgres

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// kind says how the text form of a type becomes a canonical value. The
// replication connection runs with TimeZone=UTC, DateStyle=ISO,
// IntervalStyle=iso_8601, extra_float_digits=3 and bytea_output=hex, so the
// text pgoutput sends is canonical already; most kinds only pick a Go type:
//
//	kindInt          int2, int4, int8, oid                  int64
//	kindFloat4       float4                                  float32 (NaN, ±Inf)
//	kindFloat8       float8                                  float64 (NaN, ±Inf)
//	kindBool         bool                                    bool
//	kindString       text, varchar, bpchar, name, uuid,      string as sent
//	                 numeric (exact digits, "NaN",
//	                 "Infinity"), date, time, timetz,
//	                 timestamp (naive), interval (ISO 8601),
//	                 enums, and every other type (fallback)
//	kindTimestamptz  timestamptz                             RFC 3339 UTC string with Z,
//	                                                         microseconds kept
//	kindBytea        bytea                                   []byte
//	kindJSON         json, jsonb                             json.RawMessage
//	kindArray        arrays of the kinds above               []any (nested for
//	                                                         multi-dimensional; NULL → nil)
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindFloat4
	kindFloat8
	kindBool
	kindTimestamptz
	kindBytea
	kindJSON
	kindArray
)

// pgType is what the source knows about a column type.
type pgType struct {
	name string // type name for capture.Column.Type, "int4[]" for arrays
	kind kind
	elem *pgType // kindArray only
	// fallback marks types without a kind of their own (text form as a
	// string); arrays of them are passed as their text form too, since
	// their element delimiter may not be a comma (box uses ';').
	fallback bool
}

// decode converts the text form of one value.
func (t *pgType) decode(text []byte) (any, error) {
	switch t.kind {
	case kindInt:
		v, err := strconv.ParseInt(string(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s value of %d bytes: %w", t.name, len(text), errors.Unwrap(err))
		}
		return v, nil
	case kindFloat4:
		v, err := parseFloat(string(text), 32)
		if err != nil {
			return nil, fmt.Errorf("%s value of %d bytes: %w", t.name, len(text), errors.Unwrap(err))
		}
		return float32(v), nil
	case kindFloat8:
		v, err := parseFloat(string(text), 64)
		if err != nil {
			return nil, fmt.Errorf("%s value of %d bytes: %w", t.name, len(text), errors.Unwrap(err))
		}
		return v, nil
	case kindBool:
		switch string(text) {
		case "t":
			return true, nil
		case "f":
			return false, nil
		}
		return nil, fmt.Errorf("%s value of %d bytes: want t or f", t.name, len(text))
	case kindTimestamptz:
		return utcTimestamp(string(text)), nil
	case kindBytea:
		s := string(text)
		if !strings.HasPrefix(s, `\x`) {
			return nil, errors.New("bytea: want hex output (bytea_output=hex)")
		}
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		return b, nil
	case kindJSON:
		return json.RawMessage(text), nil
	case kindArray:
		v, err := parseArray(string(text), t.elem.decode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		return v, nil
	default:
		return string(text), nil
	}
}

// parseFloat reads PostgreSQL's float output, including NaN and ±Infinity.
func parseFloat(s string, bits int) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, bits)
}

// utcTimestamp turns timestamptz output in TimeZone=UTC, DateStyle=ISO
// ("2024-01-31 23:59:59.123456+00") into RFC 3339 ("…T23:59:59.123456Z").
// Values RFC 3339 cannot hold (infinity, -infinity, BC dates) stay as sent.
func utcTimestamp(s string) string {
	date, rest, ok := strings.Cut(s, " ")
	if !ok || !strings.HasSuffix(rest, "+00") {
		return s
	}
	return date + "T" + strings.TrimSuffix(rest, "+00") + "Z"
}

// parseArray parses PostgreSQL's array text form ("{1,NULL,\"a b\"}",
// "{{1,2},{3,4}}", "[0:1]={1,2}") into []any, converting each non-NULL
// element with conv. Elements are separated by commas: every element type
// with a kind has typdelim ','.
func parseArray(src string, conv func([]byte) (any, error)) ([]any, error) {
	if strings.HasPrefix(src, "[") { // explicit bounds: "[0:1]={…}"
		i := strings.Index(src, "=")
		if i < 0 {
			return nil, errors.New("array: bounds without '='")
		}
		src = src[i+1:]
	}
	p := arrayParser{s: src, conv: conv}
	v, err := p.level()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: trailing data at byte %d", errArraySyntax, p.i)
	}
	return v, nil
}

type arrayParser struct {
	s    string
	i    int
	conv func([]byte) (any, error)
}

var errArraySyntax = errors.New("malformed array")

func (p *arrayParser) level() ([]any, error) {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return nil, fmt.Errorf("%w: want '{' at byte %d", errArraySyntax, p.i)
	}
	p.i++
	out := []any{}
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return out, nil
	}
	for {
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("%w: unterminated", errArraySyntax)
		}
		var v any
		var err error
		switch p.s[p.i] {
		case '{':
			var sub []any
			sub, err = p.level()
			v = sub
		case '"':
			v, err = p.quoted()
		default:
			v, err = p.unquoted()
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("%w: unterminated", errArraySyntax)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, fmt.Errorf("%w: unexpected %q at byte %d", errArraySyntax, p.s[p.i], p.i)
		}
	}
}

func (p *arrayParser) quoted() (any, error) {
	p.i++ // opening quote
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) {
				return nil, fmt.Errorf("%w: dangling backslash", errArraySyntax)
			}
			b = append(b, p.s[p.i+1])
			p.i += 2
		case '"':
			p.i++
			return p.conv(b)
		default:
			b = append(b, c)
			p.i++
		}
	}
	return nil, fmt.Errorf("%w: unterminated quoted element", errArraySyntax)
}

func (p *arrayParser) unquoted() (any, error) {
	var b []byte
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' {
		if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
			p.i++
		}
		b = append(b, p.s[p.i])
		p.i++
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty element at byte %d", errArraySyntax, p.i)
	}
	if strings.EqualFold(string(b), "NULL") {
		return nil, nil
	}
	return p.conv(b)
}
