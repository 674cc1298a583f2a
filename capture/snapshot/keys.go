package snapshot

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// encodeKeyValue writes one canonical key value as a one-member object
// whose name is its type.
func encodeKeyValue(v any) json.RawMessage {
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

func decodeKeyValue(raw json.RawMessage) (any, error) {
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
		b.Write(encodeKeyValue(v))
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
func KeyJSON(t *capture.Table, key []any) string {
	if key == nil || t == nil {
		return "start"
	}
	row := make(transform.Row, len(t.Key))
	for i, k := range t.Key {
		row[i] = transform.Field{Name: t.Columns[k].Name, Value: key[i]}
	}
	b, err := row.AppendJSON(nil)
	if err != nil {
		return fmt.Sprint(key)
	}
	return string(b)
}

// RowEventPosition names the snapshot row of t (table "db.table") in
// snapshot id, for its event id: by the row's own key, so a chunk read
// again after a restart gives each row the id it had — whatever rows were
// deleted or moved in between. A consumer that drops the repeated id keeps
// the first read of the key, and the stream replays every later change of
// it.
func RowEventPosition(table string, t *capture.Table, row []any, id string) string {
	pos := "snapshot:" + table + ":" + KeyJSON(t, KeyOf(row, t.Key))
	if id != "" {
		pos += "@" + id
	}
	return pos
}
