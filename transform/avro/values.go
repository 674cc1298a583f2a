package avro

import (
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The parsers below turn the JSON format's strings into Avro logical
// values, and accept a string only when formatting the value back (with
// the same rules as the JSON format) gives the same string: anything else
// (a zero date, a BC date, infinity, NaN, a "-0.00") is not held exactly by
// the logical type and goes to the column's string branch.

// parseDecimal parses exact decimal digits with scale digits after the
// point.
func parseDecimal(scale int) func(string) (any, bool) {
	return func(s string) (any, bool) {
		r, ok := new(big.Rat).SetString(s)
		if !ok || r.FloatString(scale) != s {
			return nil, false
		}
		return r, true
	}
}

// localMicros is a local-timestamp-micros value: hamba/avro resolves union
// members by Go type and has none for it, so each codec registers this one
// (Encoder.codec).
type localMicros int64

// parseDate parses YYYY-MM-DD into midnight UTC of that day (hamba/avro
// writes days since 1970-01-01).
func parseDate(s string) (any, bool) {
	t, ok := parseDay(s)
	if !ok {
		return nil, false
	}
	return t, true
}

func parseDay(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, false // 2024-00-00, 2023-02-29
	}
	return t, true
}

// parseTime parses [-]H…H:MM:SS[.ffffff] (MySQL TIME is a signed
// duration of up to 838 hours) into microseconds, as a time.Duration for
// hamba/avro's time-micros.
func parseTime(f fraction) func(string) (any, bool) {
	return func(s string) (any, bool) {
		neg := strings.HasPrefix(s, "-")
		body := strings.TrimPrefix(s, "-")
		hms, frac, _ := strings.Cut(body, ".")
		parts := strings.Split(hms, ":")
		if len(parts) != 3 || len(parts[0]) < 2 || len(parts[1]) != 2 || len(parts[2]) != 2 {
			return nil, false
		}
		h, ok1 := digits(parts[0])
		m, ok2 := digits(parts[1])
		sec, ok3 := digits(parts[2])
		us, ok4 := micros(frac)
		if !ok1 || !ok2 || !ok3 || !ok4 || m > 59 || sec > 59 {
			return nil, false
		}
		total := ((int64(h)*60+int64(m))*60+int64(sec))*1_000_000 + us
		if neg {
			total = -total
		}
		if formatTime(total, f) != s {
			return nil, false
		}
		return time.Duration(total) * time.Microsecond, true
	}
}

func formatTime(us int64, f fraction) string {
	var b []byte
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	sec := us / 1_000_000
	b = appendPadded(b, sec/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, sec/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, sec%60, 2)
	return string(appendFraction(b, us%1_000_000, f))
}

// parseTimestamp parses YYYY-MM-DD<sep>HH:MM:SS[.ffffff]<suffix> into
// microseconds since the epoch (UTC for timestamp-micros, the wall clock
// read as UTC for local-timestamp-micros).
func parseTimestamp(sep byte, suffix string, f fraction) func(string) (any, bool) {
	return func(s string) (any, bool) {
		body, ok := strings.CutSuffix(s, suffix)
		if !ok || len(body) < 19 || body[10] != sep || body[13] != ':' || body[16] != ':' {
			return nil, false
		}
		day, ok := parseDay(body[:10])
		if !ok {
			return nil, false
		}
		h, ok1 := digits(body[11:13])
		m, ok2 := digits(body[14:16])
		sec, ok3 := digits(body[17:19])
		frac := ""
		if len(body) > 19 {
			if body[19] != '.' {
				return nil, false
			}
			frac = body[20:]
		}
		us, ok4 := micros(frac)
		if !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || m > 59 || sec > 59 {
			return nil, false
		}
		total := (day.Unix()+int64(h)*3600+int64(m)*60+int64(sec))*1_000_000 + us
		if formatTimestamp(total, sep, suffix, f) != s {
			return nil, false
		}
		if suffix == "" {
			return localMicros(total), true
		}
		return time.UnixMicro(total).UTC(), true
	}
}

func formatTimestamp(us int64, sep byte, suffix string, f fraction) string {
	sec, frac := floorDiv(us, 1_000_000), us-floorDiv(us, 1_000_000)*1_000_000
	t := time.Unix(sec, 0).UTC()
	b := t.AppendFormat(nil, "2006-01-02")
	b = append(b, sep)
	b = t.AppendFormat(b, "15:04:05")
	b = appendFraction(b, frac, f)
	return string(append(b, suffix...))
}

func appendFraction(b []byte, us int64, f fraction) []byte {
	digits := f.digits
	if f.trim {
		digits = 6
		for digits > 0 && us%10 == 0 {
			us /= 10
			digits--
		}
		if digits == 0 {
			return b
		}
		b = append(b, '.')
		return appendPadded(b, us, digits)
	}
	if digits <= 0 {
		if us != 0 {
			return append(b, '!') // never equal: the value has more precision
		}
		return b
	}
	if digits > 6 {
		digits = 6
	}
	div := int64(1)
	for range 6 - digits {
		div *= 10
	}
	if us%div != 0 {
		return append(b, '!')
	}
	b = append(b, '.')
	return appendPadded(b, us/div, digits)
}

func appendPadded(b []byte, n int64, width int) []byte {
	s := strconv.FormatInt(n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// micros parses up to six fractional digits as microseconds.
func micros(frac string) (int64, bool) {
	if frac == "" {
		return 0, true
	}
	if len(frac) > 6 {
		return 0, false
	}
	n, ok := digits(frac)
	if !ok {
		return 0, false
	}
	us := int64(n)
	for range 6 - len(frac) {
		us *= 10
	}
	return us, true
}

// digits parses a non-empty run of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}
