package debezium

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/transform"
)

// errType reports a canonical value of the wrong Go type for a column.
func errType(want string, v any) error {
	return fmt.Errorf("want %s, got %T", want, v)
}

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		// BIGINT UNSIGNED in long mode: Debezium keeps the bits.
		return int64(x), nil
	}
	return nil, errType("an integer", v)
}

func toFloat(v any) (any, error) {
	switch v.(type) {
	case float32, float64:
		return v, nil
	}
	return nil, errType("a float", v)
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case uint64:
		return x != 0, nil
	}
	return nil, errType("a boolean", v)
}

func toText(v any) (any, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return nil, errType("a string", v)
}

func toBytes(v any) (any, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, errType("bytes", v)
}

func jsonText(v any) (any, error) {
	switch x := v.(type) {
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, fmt.Errorf("invalid JSON document")
		}
		return string(x), nil
	case string:
		return x, nil
	}
	return nil, errType("a JSON document", v)
}

func setText(v any) (any, error) {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, ","), nil
	case string:
		return x, nil
	}
	return nil, errType("SET labels", v)
}

// anyText writes any scalar canonical value as text.
func anyText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case json.RawMessage:
		return jsonText(x)
	case []string:
		return strings.Join(x, ","), nil
	}
	return nil, errType("a scalar value", v)
}

func bitToBool(v any) (any, error) {
	if u, ok := v.(uint64); ok {
		return u != 0, nil
	}
	return toBool(v)
}

// bitsLittleEndian writes BIT(n) as io.debezium.data.Bits: n bits in
// little-endian byte order, in exactly size bytes.
func bitsLittleEndian(size int) func(any) (any, error) {
	return func(v any) (any, error) {
		u, ok := v.(uint64)
		if !ok {
			return nil, errType("a BIT value", v)
		}
		b := make([]byte, size)
		for i := 0; i < size && i < 8; i++ {
			b[i] = byte(u >> (8 * i))
		}
		return b, nil
	}
}

// toDecimalBytes writes an unsigned integer as a Connect Decimal of scale
// 0: Java's BigInteger.toByteArray, minimal two's complement big-endian.
func toDecimalBytes(v any) (any, error) {
	var u uint64
	switch x := v.(type) {
	case uint64:
		u = x
	case int64:
		if x < 0 {
			return nil, fmt.Errorf("negative value for an unsigned column")
		}
		u = uint64(x)
	default:
		return nil, errType("an integer", v)
	}
	b := []byte{0}
	for i := 7; i >= 0; i-- {
		b = append(b, byte(u>>(8*i)))
	}
	// Drop leading zero bytes the sign does not need.
	for len(b) > 1 && b[0] == 0 && b[1] < 0x80 {
		b = b[1:]
	}
	return b, nil
}

// geometry splits MySQL's internal geometry value (4-byte little-endian
// SRID, then WKB) into Debezium's Geometry struct {wkb, srid}.
func geometry(v any) (any, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, errType("geometry bytes", v)
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("geometry value of %d bytes: want SRID and WKB", len(b))
	}
	srid := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	row := transform.Row{{Name: "wkb", Value: b[4:]}, {Name: "srid", Value: int64(int32(srid))}}
	doc, err := row.AppendJSON(nil)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(doc), nil
}

// arrayOf converts each element of a PostgreSQL array (nested for several
// dimensions) with conv; NULL elements stay null.
func arrayOf(conv func(any) (any, error)) func(any) (any, error) {
	var f func(any) (any, error)
	f = func(v any) (any, error) {
		xs, ok := v.([]any)
		if !ok {
			return nil, errType("an array", v)
		}
		out := make([]any, len(xs))
		for i, x := range xs {
			if x == nil {
				continue
			}
			var err error
			if _, nested := x.([]any); nested {
				out[i], err = f(x)
			} else {
				out[i], err = conv(x)
			}
			if err != nil {
				return nil, fmt.Errorf("array element %d: %w", i, err)
			}
		}
		return out, nil
	}
	return f
}

// zeroable wraps a temporal conversion for MySQL, whose zero dates ("0000-00-00")
// are not instants: Debezium writes null for an optional column and the
// epoch (0) for a required one.
func zeroable(optional bool, conv func(any) (any, error)) func(any) (any, error) {
	return func(v any) (any, error) {
		if s, ok := v.(string); ok && isZeroDate(s) {
			if optional {
				return nil, nil
			}
			return int64(0), nil
		}
		return conv(v)
	}
}

// zonedTimestamp passes TIMESTAMP through: Tributary's canonical form (RFC 3339
// UTC, "Z", exactly fsp fractional digits) is what Debezium's
// ZonedTimestamp writes. The zero timestamp becomes null or the epoch.
func zonedTimestamp(optional bool) func(any) (any, error) {
	return func(v any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, errType("a timestamp string", v)
		}
		if isZeroDate(s) {
			if optional {
				return nil, nil
			}
			return "1970-01-01T00:00:00Z", nil
		}
		return s, nil
	}
}

// isZeroDate reports MySQL's zero and partly-zero dates, which Debezium
// cannot represent as instants.
func isZeroDate(s string) bool {
	if len(s) < 10 {
		return false
	}
	return s[:4] == "0000" || s[5:7] == "00" || s[8:10] == "00"
}
