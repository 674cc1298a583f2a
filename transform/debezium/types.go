package debezium

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// column is how one table column is written: its Connect schema (with
// Field set to the column name) and the conversion from Tributary's
// canonical value to Debezium's. convert never sees nil.
type column struct {
	schema  connectSchema
	convert func(v any) (any, error)
}

// unavailablePlaceholder is Debezium's default unavailable.value.placeholder,
// written by the PostgreSQL connector for unchanged TOASTed values.
const unavailablePlaceholder = "__debezium_unavailable_value"

// typeName splits a capture.Column type such as "decimal(10,2) unsigned",
// "timestamp(3)" or "int4[]" into its base name, the text between the
// parentheses, and whether it is unsigned or an array.
type typeName struct {
	base     string
	args     string
	hasArgs  bool
	unsigned bool
	array    bool
}

func parseTypeName(s string) typeName {
	var t typeName
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasSuffix(s, "[]") {
		t.array = true
		s = strings.TrimSuffix(s, "[]")
	}
	if rest, ok := strings.CutSuffix(s, " unsigned"); ok {
		t.unsigned = true
		s = rest
	}
	if rest, ok := strings.CutSuffix(s, " zerofill"); ok {
		s = rest
	}
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		t.args, t.hasArgs = s[i+1:len(s)-1], true
		s = s[:i]
	}
	t.base = strings.TrimSpace(s)
	return t
}

// precision returns the single numeric argument (fsp, bit length), or def.
func (t typeName) precision(def int) int {
	if !t.hasArgs {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(t.args))
	if err != nil {
		return def
	}
	return n
}

// newColumn maps one capture.Column to its Debezium form. optional is false
// for key columns: Tributary does not know column nullability, so every
// other column is optional.
func newColumn(c capture.Column, optional bool, o Options) column {
	t := parseTypeName(c.Type)
	var col column
	if o.postgres() {
		col = postgresColumn(t, optional)
	} else {
		col = mysqlColumn(t, optional, o)
	}
	col.schema.Optional = optional
	col.schema.Field = c.Name
	return col
}

func mysqlColumn(t typeName, optional bool, o Options) column {
	switch t.base {
	case "tinyint":
		return column{schema: connectSchema{Type: typeInt16}, convert: toInt}
	case "smallint":
		if t.unsigned {
			return column{schema: connectSchema{Type: typeInt32}, convert: toInt}
		}
		return column{schema: connectSchema{Type: typeInt16}, convert: toInt}
	case "mediumint":
		return column{schema: connectSchema{Type: typeInt32}, convert: toInt}
	case "int", "integer":
		if t.unsigned {
			return column{schema: connectSchema{Type: typeInt64}, convert: toInt}
		}
		return column{schema: connectSchema{Type: typeInt32}, convert: toInt}
	case "bigint":
		if t.unsigned && o.BigintUnsigned == BigintUnsignedPrecise {
			return column{
				schema: connectSchema{
					Type: typeBytes, Name: "org.apache.kafka.connect.data.Decimal", Version: 1,
					Parameters: map[string]string{"scale": "0"},
				},
				convert: toDecimalBytes,
			}
		}
		return column{schema: connectSchema{Type: typeInt64}, convert: toInt}
	case "decimal", "numeric":
		return column{schema: connectSchema{Type: typeString}, convert: toText}
	case "float":
		return column{schema: connectSchema{Type: typeFloat32}, convert: toFloat}
	case "double", "real":
		return column{schema: connectSchema{Type: typeFloat64}, convert: toFloat}
	case "bit":
		n := t.precision(1)
		if n == 1 {
			return column{schema: connectSchema{Type: typeBoolean}, convert: bitToBool}
		}
		return column{
			schema: connectSchema{
				Type: typeBytes, Name: "io.debezium.data.Bits", Version: 1,
				Parameters: map[string]string{"length": strconv.Itoa(n)},
			},
			convert: bitsLittleEndian((n + 7) / 8),
		}
	case "bool", "boolean":
		return column{schema: connectSchema{Type: typeBoolean}, convert: toBool}
	case "year":
		return column{schema: connectSchema{Type: typeInt32, Name: "io.debezium.time.Year", Version: 1}, convert: toInt}
	case "date":
		return column{schema: connectSchema{Type: typeInt32, Name: "io.debezium.time.Date", Version: 1}, convert: zeroable(optional, dateDays)}
	case "time":
		return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.MicroTime", Version: 1}, convert: mysqlTimeMicros}
	case "datetime":
		if t.precision(0) <= 3 {
			return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.Timestamp", Version: 1}, convert: zeroable(optional, datetimeMillis)}
		}
		return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.MicroTimestamp", Version: 1}, convert: zeroable(optional, datetimeMicros)}
	case "timestamp":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.time.ZonedTimestamp", Version: 1}, convert: zonedTimestamp(optional)}
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return column{schema: connectSchema{Type: typeString}, convert: toText}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return column{schema: connectSchema{Type: typeBytes}, convert: toBytes}
	case "json":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.data.Json", Version: 1}, convert: jsonText}
	case "enum":
		s := connectSchema{Type: typeString, Name: "io.debezium.data.Enum", Version: 1}
		if t.hasArgs {
			s.Parameters = map[string]string{"allowed": strings.Join(parseLabels(t.args), ",")}
		}
		return column{schema: s, convert: toText}
	case "set":
		s := connectSchema{Type: typeString, Name: "io.debezium.data.EnumSet", Version: 1}
		if t.hasArgs {
			s.Parameters = map[string]string{"allowed": strings.Join(parseLabels(t.args), ",")}
		}
		return column{schema: s, convert: setText}
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return column{
			schema: connectSchema{
				Type: typeStruct, Name: "io.debezium.data.geometry.Geometry", Version: 1, Doc: "Geometry",
				Fields: []connectSchema{field("wkb", typeBytes, false), field("srid", typeInt32, true)},
			},
			convert: geometry,
		}
	}
	return fallbackColumn()
}

func postgresColumn(t typeName, optional bool) column {
	if t.array {
		elemType := t
		elemType.array = false
		elem := postgresColumn(elemType, true)
		elem.schema.Optional = true
		items := elem.schema
		return column{
			schema:  connectSchema{Type: typeArray, Items: &items},
			convert: arrayOf(elem.convert),
		}
	}
	switch t.base {
	case "int2", "smallint":
		return column{schema: connectSchema{Type: typeInt16}, convert: toInt}
	case "int4", "integer", "int":
		return column{schema: connectSchema{Type: typeInt32}, convert: toInt}
	case "int8", "bigint", "oid":
		return column{schema: connectSchema{Type: typeInt64}, convert: toInt}
	case "float4", "real":
		return column{schema: connectSchema{Type: typeFloat32}, convert: toFloat}
	case "float8", "double precision":
		return column{schema: connectSchema{Type: typeFloat64}, convert: toFloat}
	case "numeric", "decimal":
		return column{schema: connectSchema{Type: typeString}, convert: toText}
	case "bool", "boolean":
		return column{schema: connectSchema{Type: typeBoolean}, convert: toBool}
	case "text", "varchar", "character varying", "bpchar", "char", "character", "name", "citext":
		return column{schema: connectSchema{Type: typeString}, convert: toText}
	case "bytea":
		return column{schema: connectSchema{Type: typeBytes}, convert: toBytes}
	case "uuid":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.data.Uuid", Version: 1}, convert: toText}
	case "json", "jsonb":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.data.Json", Version: 1}, convert: jsonText}
	case "xml":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.data.Xml", Version: 1}, convert: toText}
	case "ltree":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.data.Ltree", Version: 1}, convert: toText}
	case "date":
		return column{schema: connectSchema{Type: typeInt32, Name: "io.debezium.time.Date", Version: 1}, convert: dateDays}
	case "time":
		// Without a typmod PostgreSQL keeps microseconds (precision 6).
		if t.precision(6) <= 3 {
			return column{schema: connectSchema{Type: typeInt32, Name: "io.debezium.time.Time", Version: 1}, convert: pgTimeMillis}
		}
		return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.MicroTime", Version: 1}, convert: pgTimeMicros}
	case "timetz":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.time.ZonedTime", Version: 1}, convert: zonedTime}
	case "timestamp":
		if t.precision(6) <= 3 {
			return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.Timestamp", Version: 1}, convert: datetimeMillis}
		}
		return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.MicroTimestamp", Version: 1}, convert: datetimeMicros}
	case "timestamptz":
		return column{schema: connectSchema{Type: typeString, Name: "io.debezium.time.ZonedTimestamp", Version: 1}, convert: toText}
	case "interval":
		return column{schema: connectSchema{Type: typeInt64, Name: "io.debezium.time.MicroDuration", Version: 1}, convert: intervalMicros}
	}
	return fallbackColumn()
}

// fallbackColumn writes a type Debezium's mapping is not reproduced for
// (PostgreSQL enums, domains, geometric and network types) as a string.
func fallbackColumn() column {
	return column{schema: connectSchema{Type: typeString}, convert: anyText}
}

// parseLabels splits "'a','b,c'" into its labels.
func parseLabels(s string) []string {
	var out []string
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,")
		if !strings.HasPrefix(s, "'") {
			break
		}
		var b strings.Builder
		i := 1
		for i < len(s) {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(s[i])
			i++
		}
		out = append(out, b.String())
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

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
