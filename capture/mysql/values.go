package mysql

import (
	"encoding/json"
	"fmt"
	"golang.org/x/text/encoding"
	"math/big"
	"math/bits"
	"strings"
	"time"
)

// kind is how a column's wire value becomes a canonical value.
type kind uint8

const (
	kindInt       kind = iota // signed integer of any width → int64
	kindUint                  // unsigned integer → uint64 (go-mysql hands out signed ints)
	kindDecimal               // DECIMAL → string with exactly the column's scale
	kindFloat                 // FLOAT → float32
	kindDouble                // DOUBLE → float64
	kindBit                   // BIT(n) → uint64
	kindYear                  // YEAR → int64 (0 for YEAR 0000)
	kindDate                  // DATE → "2024-01-31" (zero dates kept as sent)
	kindTime                  // TIME(n) → "-838:59:59.000000" with n fractional digits
	kindDatetime              // DATETIME(n) → "2024-01-31 23:59:59.123456", naive
	kindTimestamp             // TIMESTAMP(n) → "2024-01-31T23:59:59.123456Z", UTC
	kindString                // text → string
	kindBytes                 // binary → []byte
	kindJSON                  // JSON → json.RawMessage
	kindEnum                  // ENUM index → label
	kindSet                   // SET bitmask → []string labels
)

// decoder converts one column's go-mysql value to its canonical value.
type decoder struct {
	kind   kind
	width  int      // kindUint: width in bits of the column (8, 16, 24, 32, 64)
	scale  int      // kindDecimal: digits after the point; time kinds: fractional digits
	padTo  int      // kindBytes from BINARY(n): the server strips trailing zero bytes in the binlog
	labels []string // kindEnum, kindSet
	// text converts kindString bytes from the column's character set to
	// UTF-8; nil when they are UTF-8 already.
	text *encoding.Decoder
}

// decimalValue is what go-mysql returns for DECIMAL with UseDecimal
// (shopspring decimal.Decimal), named by its method so that this package
// does not depend on the decimal library directly.
type decimalValue interface{ StringFixed(places int32) string }

// decimalParts is the same decimal as coefficient × 10^exponent.
type decimalParts interface {
	Exponent() int32
	Coefficient() *big.Int
}

// fixedPoint writes c × 10^-scale with exactly scale fractional digits, as
// decimal.Decimal.StringFixed does: "-0.05", "12.50", "7".
func fixedPoint(c *big.Int, scale int) string {
	var buf [48]byte
	digits := c.Append(buf[:0], 10)
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	out := make([]byte, 0, len(digits)+scale+3)
	if neg {
		out = append(out, '-')
	}
	if scale <= 0 {
		return string(append(out, digits...))
	}
	if len(digits) <= scale {
		out = append(out, '0', '.')
		for range scale - len(digits) {
			out = append(out, '0')
		}
		return string(append(out, digits...))
	}
	out = append(out, digits[:len(digits)-scale]...)
	out = append(out, '.')
	return string(append(out, digits[len(digits)-scale:]...))
}

// convert maps v (as go-mysql decoded it with UseDecimal, ParseTime=false
// and TimestampStringLocation=UTC) to a canonical value. nil stays nil.
//
// It runs for every column of every row, so a value that already has its
// canonical type is returned as the very interface value it came in (v), not
// re-boxed: boxing allocates. Strings are not copied either. go-mysql reads
// every binlog packet into a buffer of its own that it never reuses or
// modifies (packet.Conn.ReadPacket copies out of its pooled buffer), and its
// strings point into that buffer, so they stay valid and unchanged; the
// packet is merely kept alive until the row's events are encoded, which the
// handler does before the next row.
func (d decoder) convert(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch d.kind {
	case kindInt:
		switch x := v.(type) {
		case int64:
			return v, nil
		case int8:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int:
			return int64(x), nil
		}
	case kindUint:
		var u uint64
		switch x := v.(type) {
		case int8:
			u = uint64(uint8(x))
		case int16:
			u = uint64(uint16(x))
		case int32:
			u = uint64(uint32(x))
		case int64:
			u = uint64(x)
		default:
			return nil, fmt.Errorf("want an integer, got %T", v)
		}
		if d.width > 0 && d.width < 64 {
			// MEDIUMINT arrives sign-extended from 24 bits.
			u &= 1<<d.width - 1
		}
		return u, nil
	case kindDecimal:
		switch x := v.(type) {
		case decimalValue:
			// go-mysql builds the decimal from a string with exactly the
			// column's scale, so its exponent is -scale and the digits
			// only need a point; StringFixed would round through
			// several big.Int operations to the same text.
			if p, ok := v.(decimalParts); ok && p.Exponent() == -int32(d.scale) {
				return fixedPoint(p.Coefficient(), d.scale), nil
			}
			return x.StringFixed(int32(d.scale)), nil
		case string:
			return x, nil
		}
	case kindFloat:
		if _, ok := v.(float32); ok {
			return v, nil
		}
	case kindDouble:
		if _, ok := v.(float64); ok {
			return v, nil
		}
	case kindBit:
		if x, ok := v.(int64); ok {
			return uint64(x), nil
		}
	case kindYear:
		if x, ok := v.(int); ok {
			return int64(x), nil
		}
	case kindDate, kindDatetime:
		switch x := v.(type) {
		case string: // go-mysql formats these into a new string
			return v, nil
		case time.Time:
			// With ParseTime go-mysql hands over valid DATETIMEs as
			// time.Time in UTC; the same text, without fmt.
			if d.kind == kindDatetime {
				return formatDatetime(x, d.scale, ' ', ""), nil
			}
		}
	case kindTime:
		if x, ok := v.(string); ok {
			return fixFraction(x, d.scale), nil
		}
	case kindTimestamp:
		switch x := v.(type) {
		case string:
			return timestampUTC(x), nil
		case time.Time: // with ParseTime: the instant, in any zone
			return formatDatetime(x.UTC(), d.scale, 'T', "Z"), nil
		}
	case kindString:
		if d.text != nil {
			switch x := v.(type) {
			case string:
				return decodeText(d.text, []byte(x))
			case []byte:
				return decodeText(d.text, x)
			}
		}
		switch x := v.(type) {
		case string:
			return v, nil // see above: the packet's memory is never reused
		case []byte:
			return string(x), nil
		}
	case kindBytes:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = append([]byte{}, x...) // empty, never nil: nil []byte marshals as JSON null
		default:
			return nil, fmt.Errorf("want bytes, got %T", v)
		}
		if len(b) < d.padTo {
			b = append(b, make([]byte, d.padTo-len(b))...)
		}
		return b, nil
	case kindJSON:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = append([]byte(nil), x...)
		default:
			return nil, fmt.Errorf("want a JSON document, got %T (partial JSON updates, binlog_row_value_options=PARTIAL_JSON, are not supported)", v)
		}
		if len(b) == 0 {
			// MySQL logs an empty document for a JSON NULL literal stored by non-strict inserts.
			b = []byte("null")
		}
		return json.RawMessage(b), nil
	case kindEnum:
		if x, ok := v.(int64); ok {
			return enumLabel(d.labels, x)
		}
	case kindSet:
		if x, ok := v.(int64); ok {
			return setLabels(d.labels, uint64(x))
		}
	}
	return nil, fmt.Errorf("unexpected %T for this column", v)
}

// enumLabel maps a 1-based ENUM index to its label; 0 is the empty string the server
// stores for an invalid value in non-strict mode.
func enumLabel(labels []string, i int64) (string, error) {
	if i == 0 {
		return "", nil
	}
	if i < 0 || int(i) > len(labels) {
		return "", fmt.Errorf("enum index %d out of range (%d labels)", i, len(labels))
	}
	return labels[i-1], nil
}

// setLabels maps a SET bitmask to its labels in definition order.
func setLabels(labels []string, mask uint64) ([]string, error) {
	out := make([]string, 0, bits.OnesCount64(mask))
	for i := 0; mask != 0; i++ {
		if mask&1 != 0 {
			if i >= len(labels) {
				return nil, fmt.Errorf("set bit %d has no label (%d labels)", i, len(labels))
			}
			out = append(out, labels[i])
		}
		mask >>= 1
	}
	return out, nil
}

// fixFraction gives a TIME string exactly scale fractional digits: go-mysql
// drops the fraction when it is zero ("12:00:00" for TIME(3) 12:00:00.000).
func fixFraction(s string, scale int) string {
	whole, frac, _ := strings.Cut(s, ".")
	if scale == 0 {
		return whole
	}
	if len(frac) > scale {
		frac = frac[:scale]
	}
	return whole + "." + frac + strings.Repeat("0", scale-len(frac))
}

// timestampUTC turns go-mysql's "2006-01-02 15:04:05.000000" (already in
// UTC through TimestampStringLocation) into RFC 3339 "2006-01-02T15:04:05.000000Z".
// The zero timestamp stays "0000-00-00 00:00:00[.000]": it is not an instant.
func timestampUTC(s string) string {
	if strings.HasPrefix(s, "0000-00-00") {
		return s
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i] + "T" + s[i+1:] + "Z" // one allocation
	}
	return s + "Z"
}

// formatDatetime writes t as "2006-01-02 15:04:05" (sep between date and
// time) with scale fractional digits, truncated like go-mysql's own
// formatting, followed by suffix.
func formatDatetime(t time.Time, scale int, sep byte, suffix string) string {
	var buf [40]byte
	b := buf[:0]
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, sep)
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	if scale > 0 {
		var frac [6]byte
		appendDigits(frac[:0], t.Nanosecond()/1000, 6)
		b = append(b, '.')
		b = append(b, frac[:min(scale, 6)]...)
	}
	b = append(b, suffix...)
	return string(b)
}

// appendDigits appends n (non-negative) in decimal, zero-padded to width.
func appendDigits(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + n)
	return append(b, tmp[i:]...)
}
