package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// caster converts one canonical value. Its errors become RowError reasons,
// so they name types, never values.
type caster func(v any) (any, error)

func compileCast(c Cast) (caster, error) {
	if c.To == "" && c.Timezone != "" {
		c.To = CastTimestamp
	}
	switch c.To {
	case CastBool, CastNumber:
		if c.Timezone != "" {
			return nil, fmt.Errorf("timezone applies to timestamp casts only, not %s", c.To)
		}
		if c.To == CastBool {
			return castBool, nil
		}
		return castNumber, nil
	case CastTimestamp:
		if c.Timezone == "" {
			return nil, errors.New("timestamp needs a timezone (e.g. Europe/Berlin or UTC)")
		}
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return nil, fmt.Errorf("unknown timezone %q", c.Timezone)
		}
		return func(v any) (any, error) { return castTimestamp(v, loc) }, nil
	case "":
		return nil, errors.New("missing type (want bool, number, or {timezone: …})")
	}
	return nil, fmt.Errorf("unknown type %q (want bool, number, timestamp)", c.To)
}

// castBool accepts the integers 0 and 1 only: any other value of a
// TINYINT(1) means the column is not really boolean, and silently calling
// it true would lose data.
func castBool(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case int64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case uint64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	default:
		return nil, fmt.Errorf("want an integer 0 or 1, got %s", typeName(v))
	}
	return nil, errors.New("want an integer 0 or 1, got another integer")
}

// castNumber turns a numeric string into a JSON number with the same
// digits (json.RawMessage is embedded as-is by the encoder), so DECIMAL
// values stay exact: "1234.50" becomes 1234.50, never a float64.
func castNumber(v any) (any, error) {
	switch v := v.(type) {
	case nil, int64, uint64, float32, float64:
		return v, nil
	case json.RawMessage:
		if _, ok := numberText(string(v)); ok {
			return v, nil
		}
		return nil, errors.New("want a numeric string, got a JSON document")
	case string:
		if n, ok := numberText(v); ok {
			return json.RawMessage(n), nil
		}
		return nil, errors.New("want a numeric string, got a string that is not a decimal number")
	default:
		return nil, fmt.Errorf("want a numeric string, got %s", typeName(v))
	}
}

// numberText checks s is a decimal number ([+-]digits[.digits][e[+-]digits],
// with digits on at least one side of the point) and returns it as JSON
// number text with the same value and digits: a leading '+', redundant
// leading zeros and a bare point are removed ("+007." is 7, ".5" is 0.5).
func numberText(s string) (string, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart, intEnd := s[intStart:i], i
	var frac string
	dot := i < len(s) && s[i] == '.'
	if dot {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fs:i]
	}
	if intPart == "" && frac == "" {
		return "", false
	}
	var exp string
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		es := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == ds {
			return "", false
		}
		exp = s[es:i]
	}
	if i != len(s) {
		return "", false
	}
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if intPart == "" {
		intPart = "0"
	}
	if s[0] != '+' && len(intPart) == intEnd-intStart && (frac != "" || !dot) {
		return s, true // already canonical: no copy
	}
	b := make([]byte, 0, len(s)+2)
	if neg {
		b = append(b, '-')
	}
	b = append(b, intPart...)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	b = append(b, exp...)
	return string(b), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// castTimestamp reads a naive "YYYY-MM-DD hh:mm:ss[.f]" (or with 'T') as
// wall-clock time in loc and returns it as RFC 3339 UTC with the same
// fractional digits. A wall-clock time that occurs twice (when clocks go
// back) is the earlier instant; one that does not exist (when clocks go
// forward) is an error, as is the zero date.
func castTimestamp(v any, loc *time.Location) (any, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = v
	default:
		return nil, fmt.Errorf("want a naive datetime string, got %s", typeName(v))
	}
	wall, frac, ok := parseNaive(s)
	if !ok {
		return nil, errors.New(`want a naive datetime "YYYY-MM-DD hh:mm:ss[.fraction]"`)
	}
	if s[:10] == "0000-00-00" {
		return nil, errors.New("the zero date is not an instant")
	}
	t, err := instant(wall, loc)
	if err != nil {
		return nil, err
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, errors.New("the instant is outside years 0000-9999 in UTC")
	}
	b := make([]byte, 0, 32)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return string(append(b, 'Z')), nil
}

// parseNaive parses the date and time as a UTC wall clock; the fractional
// digits are returned as written (1 to 9), unchanged by zone offsets, which
// are whole seconds.
func parseNaive(s string) (wall time.Time, frac string, ok bool) {
	if len(s) < 19 || (s[10] != ' ' && s[10] != 'T') || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, "", false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			if !isDigit(s[i]) {
				return -1
			}
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if s[:10] == "0000-00-00" {
		return time.Time{}, "", true // reported as the zero date
	}
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
		return time.Time{}, "", false
	}
	if len(s) > 19 {
		if s[19] != '.' || len(s) == 20 || len(s) > 29 || num(20, len(s)) < 0 {
			return time.Time{}, "", false
		}
		frac = s[20:]
	}
	nsec := 0
	if frac != "" {
		n, _ := strconv.Atoi((frac + "000000000")[:9])
		nsec = n
	}
	wall = time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
	if wall.Day() != d { // 2024-02-30 normalizes to March
		return time.Time{}, "", false
	}
	return wall, frac, true
}

// instant finds the instants whose wall clock in loc is wall. Zone offsets
// change rarely, so the offsets in force a day around wall are all
// candidates; a candidate is right when loc gives that offset at it.
func instant(wall time.Time, loc *time.Location) (time.Time, error) {
	var best time.Time
	found := false
	for _, probe := range [...]time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := wall.Add(probe).In(loc).Zone()
		t := wall.Add(-time.Duration(off) * time.Second)
		if _, got := t.In(loc).Zone(); got != off {
			continue
		}
		if !found || t.Before(best) {
			best, found = t, true
		}
	}
	if !found {
		return time.Time{}, fmt.Errorf("the wall-clock time does not exist in %s (clocks went forward)", loc)
	}
	return best.UTC(), nil
}

func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int64, uint64:
		return "an integer"
	case float32, float64:
		return "a float"
	case string:
		return "a string"
	case []byte:
		return "binary data"
	case json.RawMessage:
		return "a JSON document"
	case []string, []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}
