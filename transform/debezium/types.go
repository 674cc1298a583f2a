package debezium

import (
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
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
	// Only the name is case-insensitive: ENUM and SET labels keep theirs.
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "[]") {
		t.array = true
		s = strings.TrimSuffix(s, "[]")
	}
	if rest, ok := cutSuffixFold(s, " unsigned"); ok {
		t.unsigned = true
		s = rest
	}
	if rest, ok := cutSuffixFold(s, " zerofill"); ok {
		s = rest
	}
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		t.args, t.hasArgs = s[i+1:len(s)-1], true
		s = s[:i]
	}
	t.base = strings.ToLower(strings.TrimSpace(s))
	return t
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if n := len(s) - len(suffix); n >= 0 && strings.EqualFold(s[n:], suffix) {
		return s[:n], true
	}
	return s, false
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
		if o.ConnectorName == ConnectorMariaDB {
			// MariaDB's JSON is LONGTEXT with a json_valid check: Debezium's
			// MariaDB connector sees the LONGTEXT and writes a plain string.
			return column{schema: connectSchema{Type: typeString}, convert: jsonText}
		}
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
	case "point":
		return column{
			schema: connectSchema{
				Type: typeStruct, Name: "io.debezium.data.geometry.Point", Version: 1, Doc: "Geometry (POINT)",
				Fields: []connectSchema{field("x", typeFloat64, false), field("y", typeFloat64, false),
					field("wkb", typeBytes, true), field("srid", typeInt32, true)},
			},
			convert: point,
		}
	case "geometry", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
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
		return column{schema: connectSchema{Type: typeString}, convert: numericText}
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
