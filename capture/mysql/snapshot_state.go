package mysql

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SnapshotState is the snapshot work pending at a position: the table being
// read, the key of the last row of its last finished chunk, and the tables
// still to read, in order. It is carried in checkpoint positions as
// "|snapshot=<base64url(JSON)>", so a restart resumes the snapshot at its
// last finished chunk instead of from zero.
type SnapshotState struct {
	// ID names the snapshot (the binlog position it started at); event ids
	// of its rows include it, so a later snapshot of the same table does
	// not reuse them.
	ID string
	// Table is the table being read, "db.table".
	Table string
	// After holds the canonical key values (in key order) of the last row
	// of the last finished chunk of Table; nil: start at its first row.
	After []any
	// Pending are the tables to read after Table, in order.
	Pending []string
}

// snapshotWire is the JSON shape of SnapshotState. Key values are typed
// ({"i":"-5"}, {"s":"abc"}, ...) so that they decode to exactly the
// canonical values they were.
type snapshotWire struct {
	ID      string            `json:"id,omitempty"`
	Table   string            `json:"table"`
	After   []json.RawMessage `json:"after,omitempty"`
	Pending []string          `json:"pending,omitempty"`
}

func (s *SnapshotState) encode() string {
	w := snapshotWire{ID: s.ID, Table: s.Table, Pending: s.Pending}
	for _, v := range s.After {
		w.After = append(w.After, encodeKeyValue(v))
	}
	b, _ := json.Marshal(w) // only strings and raw JSON built above
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeSnapshotState(text string) (*SnapshotState, error) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	var w snapshotWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("not snapshot JSON: %w", err)
	}
	if db, tbl, ok := strings.Cut(w.Table, "."); !ok || db == "" || tbl == "" {
		return nil, fmt.Errorf("table %q is not db.table", w.Table)
	}
	s := &SnapshotState{ID: w.ID, Table: w.Table, Pending: w.Pending}
	for i, raw := range w.After {
		v, err := decodeKeyValue(raw)
		if err != nil {
			return nil, fmt.Errorf("key value %d: %w", i, err)
		}
		s.After = append(s.After, v)
	}
	return s, nil
}

// clone returns a copy that shares no slices with s.
func (s *SnapshotState) clone() *SnapshotState {
	if s == nil {
		return nil
	}
	c := *s
	c.After = append([]any(nil), s.After...)
	c.Pending = append([]string(nil), s.Pending...)
	return &c
}

// skipTable is the state once Table is finished: the next pending table
// from its start, or nil when none is left.
func (s *SnapshotState) skipTable() *SnapshotState {
	if len(s.Pending) == 0 {
		return nil
	}
	return &SnapshotState{ID: s.ID, Table: s.Pending[0], Pending: append([]string(nil), s.Pending[1:]...)}
}

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

// keyString identifies a row by its key values: equal canonical key values
// give equal strings, whichever path (binlog or SELECT) produced them.
func keyString(row []any, key []int) string {
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
