package capture

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EncodeKeyValue writes one canonical key value as a one-member object
// whose name is its type, so that it decodes back to the same Go type
// (snapshot cursors in checkpoints keep keys this way).
func EncodeKeyValue(v any) json.RawMessage {
	var tag string
	var val any
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null")
	case bool:
		tag, val = "bool", x
	case int64:
		tag, val = "i", strconv.FormatInt(x, 10)
	case uint64:
		tag, val = "u", strconv.FormatUint(x, 10)
	case float32:
		tag, val = "f32", strconv.FormatUint(uint64(math.Float32bits(x)), 16)
	case float64:
		tag, val = "f64", strconv.FormatUint(math.Float64bits(x), 16)
	case string:
		tag, val = "s", x
	case []byte:
		tag, val = "b", base64.StdEncoding.EncodeToString(x)
	case []string:
		tag, val = "set", x
	case json.RawMessage:
		tag, val = "json", string(x)
	default:
		tag, val = "s", fmt.Sprint(x) // not a canonical key type; keeps the state readable
	}
	b, _ := json.Marshal(map[string]any{tag: val})
	return b
}

// DecodeKeyValue is the inverse of EncodeKeyValue.
func DecodeKeyValue(raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return nil, errors.New("want a one-member object such as {\"i\":\"42\"}")
	}
	for tag, v := range m {
		if tag == "bool" {
			var b bool
			err := json.Unmarshal(v, &b)
			return b, err
		}
		if tag == "set" {
			var ss []string
			err := json.Unmarshal(v, &ss)
			return ss, err
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%s: want a string", tag)
		}
		switch tag {
		case "i":
			return strconv.ParseInt(s, 10, 64)
		case "u":
			return strconv.ParseUint(s, 10, 64)
		case "f32":
			bits, err := strconv.ParseUint(s, 16, 32)
			return math.Float32frombits(uint32(bits)), err
		case "f64":
			bits, err := strconv.ParseUint(s, 16, 64)
			return math.Float64frombits(bits), err
		case "s":
			return s, nil
		case "b":
			return base64.StdEncoding.DecodeString(s)
		case "json":
			return json.RawMessage(s), nil
		}
		return nil, fmt.Errorf("unknown value type %q", tag)
	}
	return nil, nil
}

// KeyString identifies a row by its key values (row[k] for k in key):
// equal canonical key values give equal strings, whichever path (stream or
// SELECT) produced them.
func KeyString(row []any, key []int) string {
	var b strings.Builder
	for _, k := range key {
		var v any
		if k < len(row) {
			v = row[k]
		}
		b.Write(EncodeKeyValue(v))
		b.WriteByte(',')
	}
	return b.String()
}

// KeyOf returns the key values of row, in key order.
func KeyOf(row []any, key []int) []any {
	out := make([]any, len(key))
	for i, k := range key {
		if k < len(row) {
			out[i] = row[k]
		}
	}
	return out
}

// KeyJSON writes key values (in t.Key order) as the key object events
// carry ({"id":42}); "start" for none. Snapshot event positions use it to
// name the chunk a row came from.
func KeyJSON(t *Table, key []any) string {
	if key == nil || t == nil {
		return "start"
	}
	b := append(make([]byte, 0, 32), '{')
	for i, k := range t.Key {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = AppendStringJSON(b, t.Columns[k].Name); err == nil {
			b = append(b, ':')
			b, err = AppendValueJSON(b, key[i])
		}
		if err != nil {
			return fmt.Sprint(key)
		}
	}
	return string(append(b, '}'))
}

// DecodeKey reads a key object as events carry it ({"id":42}) back into
// the canonical values of t's key columns, in key order. decode turns one
// column's JSON value into its canonical value: only the source knows a
// column's type.
func DecodeKey(t *Table, keyJSON []byte, decode func(col int, raw json.RawMessage) (any, error)) ([]any, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(keyJSON, &obj); err != nil {
		return nil, fmt.Errorf("key is not a JSON object: %w", err)
	}
	out := make([]any, len(t.Key))
	for j, col := range t.Key {
		name := t.Columns[col].Name
		raw, ok := obj[name]
		if !ok {
			return nil, fmt.Errorf("key has no column %s", name)
		}
		v, err := decode(col, raw)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", name, err)
		}
		out[j] = v
	}
	return out, nil
}
