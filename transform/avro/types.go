package avro

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
)

// column is how one table column is written: its Avro type as one or more
// non-null branches (a logical type and its string fallback), and the
// conversion of a canonical value (never nil) to a branch and its value.
type column struct {
	name, field string
	sourceType  string
	branches    []branch // none: the field is always null
	convert     func(v any) (int, any, error)
	props       map[string]any // more field properties (a mapping's rule)
}

// branch is one non-null member of a column's union: its schema (as JSON
// values) and its name as hamba/avro resolves union members.
type branch struct {
	schema any
	name   string
}

var (
	intBranch     = branch{"int", "int"}
	longBranch    = branch{"long", "long"}
	floatBranch   = branch{"float", "float"}
	doubleBranch  = branch{"double", "double"}
	boolBranch    = branch{"boolean", "boolean"}
	stringBranch  = branch{"string", "string"}
	bytesBranch   = branch{"bytes", "bytes"}
	jsonBranch    = branch{map[string]any{"type": "string", "tributary.format": "json"}, "string"}
	uuidBranch    = branch{map[string]any{"type": "string", "logicalType": "uuid"}, "string.uuid"}
	dateBranch    = branch{map[string]any{"type": "int", "logicalType": "date"}, "int.date"}
	timeBranch    = branch{map[string]any{"type": "long", "logicalType": "time-micros"}, "long.time-micros"}
	tsBranch      = branch{map[string]any{"type": "long", "logicalType": "timestamp-micros"}, "long.timestamp-micros"}
	localTsBranch = branch{map[string]any{"type": "long", "logicalType": "local-timestamp-micros"}, "long.local-timestamp-micros"}
	setBranch     = branch{map[string]any{"type": "array", "items": "string"}, "array"}
)

func decimalBranch(precision, scale int) branch {
	return branch{map[string]any{"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}, "bytes.decimal"}
}

// fraction says how many fractional second digits the JSON format writes:
// MySQL pads to the column's precision, PostgreSQL trims trailing zeros.
type fraction struct {
	digits int
	trim   bool
}

func newColumn(c capture.Column, field string, postgres bool) column {
	t := parseType(c.Type)
	col := column{name: c.Name, field: field, sourceType: c.Type}
	if postgres {
		col.branches, col.convert = postgresType(t)
	} else {
		col.branches, col.convert = mysqlType(t)
	}
	return col
}

func single(b branch, conv func(any) (any, error)) ([]branch, func(any) (int, any, error)) {
	return []branch{b}, func(v any) (int, any, error) {
		out, err := conv(v)
		return 0, out, err
	}
}

// withFallback is a logical type whose values come as the JSON format's
// strings; parse returns ok false for a string the type cannot hold
// exactly, which then goes to the string branch as it is.
func withFallback(b branch, parse func(s string) (any, bool)) ([]branch, func(any) (int, any, error)) {
	return []branch{b, stringBranch}, func(v any) (int, any, error) {
		s, ok := v.(string)
		if !ok {
			return 0, nil, fmt.Errorf("want a string, have %T", v)
		}
		if out, ok := parse(s); ok {
			return 0, out, nil
		}
		return 1, s, nil
	}
}

func mysqlType(t typeName) ([]branch, func(any) (int, any, error)) {
	switch t.base {
	case "tinyint", "smallint", "mediumint", "year", "bool", "boolean":
		return single(intBranch, toInt32)
	case "int", "integer":
		if t.unsigned {
			return single(longBranch, toInt64)
		}
		return single(intBranch, toInt32)
	case "bigint":
		if t.unsigned {
			return single(decimalBranch(20, 0), toUnsignedDecimal)
		}
		return single(longBranch, toInt64)
	case "bit":
		if t.number(0, 1) < 64 {
			return single(longBranch, toInt64)
		}
		return single(decimalBranch(20, 0), toUnsignedDecimal)
	case "decimal", "numeric", "dec", "fixed":
		p, s := t.number(0, 10), t.number(1, 0)
		return withFallback(decimalBranch(p, s), parseDecimal(s))
	case "float":
		return single(floatBranch, toFloat32)
	case "double", "real":
		return single(doubleBranch, toFloat64)
	case "date":
		return withFallback(dateBranch, parseDate)
	case "time":
		return withFallback(timeBranch, parseTime(fraction{digits: t.number(0, 0)}))
	case "datetime":
		return withFallback(localTsBranch, parseTimestamp(' ', "", fraction{digits: t.number(0, 0)}))
	case "timestamp":
		return withFallback(tsBranch, parseTimestamp('T', "Z", fraction{digits: t.number(0, 0)}))
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return single(bytesBranch, toBytes)
	case "json":
		return single(jsonBranch, toJSONText)
	case "set":
		return single(setBranch, toStrings)
	}
	// char, varchar, text, enum.
	return single(stringBranch, toText)
}

func postgresType(t typeName) ([]branch, func(any) (int, any, error)) {
	if t.array {
		elem := t
		elem.array = false
		elemBranches, elemConv := postgresType(elem)
		items := append([]any{"null"}, schemas(elemBranches)...)
		arr := branch{map[string]any{"type": "array", "items": items}, "array"}
		// A multidimensional array has arrays for elements, which the
		// column's element type cannot hold: it goes to the string branch
		// as the JSON format's text of the whole array.
		return []branch{arr, jsonBranch}, func(v any) (int, any, error) {
			vs, ok := v.([]any)
			if !ok {
				return 0, nil, fmt.Errorf("want an array, have %T", v)
			}
			out := make([]any, len(vs))
			for i, e := range vs {
				switch e.(type) {
				case nil:
					continue
				case []any:
					text, err := capture.AppendValueJSON(nil, v)
					return 1, string(text), err
				}
				_, ev, err := elemConv(e)
				if err != nil {
					return 0, nil, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = ev
			}
			// hamba/avro resolves no member for []any: name it.
			return 0, map[string]any{"array": out}, nil
		}
	}
	frac := fraction{trim: true}
	switch t.base {
	case "int2", "smallint", "int4", "integer", "int":
		return single(intBranch, toInt32)
	case "int8", "bigint", "oid":
		return single(longBranch, toInt64)
	case "float4", "real":
		return single(floatBranch, toFloat32)
	case "float8", "double precision":
		return single(doubleBranch, toFloat64)
	case "numeric", "decimal":
		if !t.hasArgs {
			// No declared scale: Avro's decimal needs one, so the exact
			// digits (or NaN, ±Infinity) stay a string.
			return single(stringBranch, toText)
		}
		p, s := t.number(0, 0), t.number(1, 0)
		return withFallback(decimalBranch(p, s), parseDecimal(s))
	case "bool", "boolean":
		return single(boolBranch, toBool)
	case "bytea":
		return single(bytesBranch, toBytes)
	case "uuid":
		return single(uuidBranch, toText)
	case "json", "jsonb":
		return single(jsonBranch, toJSONText)
	case "date":
		return withFallback(dateBranch, parseDate)
	case "time", "time without time zone":
		return withFallback(timeBranch, parseTime(frac))
	case "timestamp", "timestamp without time zone":
		return withFallback(localTsBranch, parseTimestamp(' ', "", frac))
	case "timestamptz", "timestamp with time zone":
		return withFallback(tsBranch, parseTimestamp('T', "Z", frac))
	case "text", "varchar", "character varying", "bpchar", "char", "character", "name", "citext", "xml":
		return single(stringBranch, toText)
	}
	// enums, domains, intervals, timetz, geometric, network and range
	// types: their text, or a domain's number or boolean as it is.
	return dynamic()
}

// dynamic is a column of a type without a mapping: a union of the scalar
// kinds, the member chosen by the value's own kind (a PostgreSQL domain
// over int gives longs, an enum strings). A value of no scalar kind (an
// array of a domain) is written as its JSON format text.
func dynamic() ([]branch, func(any) (int, any, error)) {
	return []branch{stringBranch, longBranch, doubleBranch, boolBranch, bytesBranch}, func(v any) (int, any, error) {
		switch v := v.(type) {
		case string:
			return 0, v, nil
		case int64:
			return 1, v, nil
		case uint64:
			if v <= math.MaxInt64 {
				return 1, int64(v), nil
			}
		case float64:
			return 2, v, nil
		case float32:
			return 2, float64(v), nil
		case bool:
			return 3, v, nil
		case []byte:
			return 4, v, nil
		}
		text, err := capture.AppendValueJSON(nil, v)
		return 0, string(text), err
	}
}

func schemas(bs []branch) []any {
	out := make([]any, len(bs))
	for i, b := range bs {
		out[i] = b.schema
	}
	return out
}

func toInt32(v any) (any, error) {
	n, err := toInt64(v)
	if err != nil {
		return nil, err
	}
	i := n.(int64)
	if i < math.MinInt32 || i > math.MaxInt32 {
		return nil, fmt.Errorf("value out of int range")
	}
	return int32(i), nil
}

func toInt64(v any) (any, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case uint64:
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("value out of long range")
		}
		return int64(v), nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	}
	return nil, fmt.Errorf("want an integer, have %T", v)
}

func toUnsignedDecimal(v any) (any, error) {
	switch v := v.(type) {
	case uint64:
		return new(big.Rat).SetInt(new(big.Int).SetUint64(v)), nil
	case int64:
		return new(big.Rat).SetInt64(v), nil
	}
	return nil, fmt.Errorf("want an integer, have %T", v)
}

func toFloat32(v any) (any, error) {
	switch v := v.(type) {
	case float32:
		return v, nil
	case float64:
		return float32(v), nil
	}
	return nil, fmt.Errorf("want a float, have %T", v)
}

func toFloat64(v any) (any, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	}
	return nil, fmt.Errorf("want a float, have %T", v)
}

func toBool(v any) (any, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return nil, fmt.Errorf("want a boolean, have %T", v)
}

func toBytes(v any) (any, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, fmt.Errorf("want bytes, have %T", v)
}

// toText is a string column's value; a value of another type (a domain
// over a number, say) is written as its JSON format text.
func toText(v any) (any, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := capture.AppendValueJSON(nil, v)
	return string(b), err
}

func toJSONText(v any) (any, error) {
	switch v := v.(type) {
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, fmt.Errorf("invalid JSON document")
		}
		return string(v), nil
	case string:
		return v, nil
	}
	return nil, fmt.Errorf("want a JSON document, have %T", v)
}

func toStrings(v any) (any, error) {
	if s, ok := v.([]string); ok {
		return s, nil
	}
	return nil, fmt.Errorf("want SET labels, have %T", v)
}

// typeName splits a capture.Column type such as "decimal(10,2) unsigned"
// or "int4[]" into its parts.
type typeName struct {
	base     string
	args     []string
	hasArgs  bool
	unsigned bool
	array    bool
}

func parseType(s string) typeName {
	var t typeName
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.HasSuffix(s, "[]") {
		t.array = true
		s = strings.TrimSuffix(s, "[]")
	}
	if rest, ok := strings.CutSuffix(s, " zerofill"); ok {
		s = rest
	}
	if rest, ok := strings.CutSuffix(s, " unsigned"); ok {
		t.unsigned = true
		s = rest
	}
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		t.args, t.hasArgs = strings.Split(s[i+1:len(s)-1], ","), true
		s = s[:i]
	}
	t.base = strings.TrimSpace(s)
	return t
}

// number is the i-th numeric argument, or def.
func (t typeName) number(i, def int) int {
	if i >= len(t.args) {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(t.args[i]))
	if err != nil {
		return def
	}
	return n
}
