package avro

import (
	"strconv"
	"strings"
)

// avroName makes s a valid Avro name ([A-Za-z_][A-Za-z0-9_]*): every other
// byte becomes '_', and a leading digit (or an empty name) gets a '_'
// prefix. The original name travels in the field's "tributary.column"
// property where it differs.
func avroName(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// namespace joins name parts, each made a valid Avro name; empty parts
// (an empty topic prefix) are left out.
func namespace(parts ...string) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p != "" {
			out = append(out, avroName(p))
		}
	}
	return strings.Join(out, ".")
}

// fieldNames returns the Avro field names of columns: avroName of each,
// made unique with a "_2", "_3", … suffix where two columns map to one name
// ("a b" and "a_b").
func fieldNames(columns []string) []string {
	out := make([]string, len(columns))
	used := make(map[string]bool, len(columns))
	for i, c := range columns {
		n := avroName(c)
		for k := 2; used[n]; k++ {
			n = avroName(c) + "_" + strconv.Itoa(k)
		}
		used[n] = true
		out[i] = n
	}
	return out
}
