package debezium

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
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

// numericText is a PostgreSQL numeric as decimal.handling.mode=string
// writes it: the digits as PostgreSQL prints them, the special values as
// Debezium's SpecialValueDecimal names them (NAN, POSITIVE_INFINITY,
// NEGATIVE_INFINITY).
func numericText(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errType("a string", v)
	}
	switch s {
	case "NaN":
		return "NAN", nil
	case "Infinity":
		return "POSITIVE_INFINITY", nil
	case "-Infinity":
		return "NEGATIVE_INFINITY", nil
	}
	return s, nil
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
// SRID, then WKB) into Debezium's Geometry struct {wkb, srid}. SRID 0 (none
// given) is null, as Debezium's BinlogGeometry.fromBytes makes it.
func geometry(v any) (any, error) {
	wkb, srid, err := splitGeometry(v)
	if err != nil {
		return nil, err
	}
	return appendRow(transform.Row{{Name: "wkb", Value: wkb}, {Name: "srid", Value: srid}})
}

// point is a POINT column: Debezium's Point struct {x, y, wkb, srid}, the
// coordinates read from the WKB (a 2D point, 21 bytes; Debezium fails on
// anything else in a POINT column, so does this).
func point(v any) (any, error) {
	wkb, srid, err := splitGeometry(v)
	if err != nil {
		return nil, err
	}
	if len(wkb) != 21 {
		return nil, fmt.Errorf("point value with %d bytes of WKB: want a 2D point (21)", len(wkb))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if wkb[0] == 0 {
		order = binary.BigEndian
	}
	if typ := order.Uint32(wkb[1:5]); typ != 1 {
		return nil, fmt.Errorf("point value of WKB type %d: want 1 (Point)", typ)
	}
	x := math.Float64frombits(order.Uint64(wkb[5:13]))
	y := math.Float64frombits(order.Uint64(wkb[13:21]))
	return appendRow(transform.Row{{Name: "x", Value: x}, {Name: "y", Value: y}, {Name: "wkb", Value: wkb}, {Name: "srid", Value: srid}})
}

// splitGeometry returns the WKB and the SRID (nil for 0) of a MySQL
// geometry value.
func splitGeometry(v any) ([]byte, any, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, nil, errType("geometry bytes", v)
	}
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("geometry value of %d bytes: want SRID and WKB", len(b))
	}
	var srid any
	if id := int32(binary.LittleEndian.Uint32(b[:4])); id != 0 {
		srid = int64(id)
	}
	return b[4:], srid, nil
}

func appendRow(row transform.Row) (any, error) {
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
