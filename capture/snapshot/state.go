package snapshot

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/tributary-cdc/tributary/capture"
	"slices"
	"strings"
	"time"
)

// LegacySeparator introduced the encoded State inside a checkpoint position
// before checkpoints kept the two apart: "<position>|snapshot=<Encode()>".
const LegacySeparator = "|snapshot="

// State is the snapshot work pending at a position: the tables being read,
// each with the key of the last row of its last emitted chunk, and the
// tables still to start, in order. Sources hand it over beside a Commit's
// position (capture.Commit.Snapshot, Encode()), the checkpoint keeps it, and
// a restart resumes every table at its last finished chunk instead of from
// zero. Checkpoints of earlier versions kept it in the position
// ("<position>|snapshot=<Encode()>"); the sources still read that form.
//
// State values are never changed in place once handed out: the methods
// that move the work on return a new State.
type State struct {
	// ID names the snapshot; event ids of its rows include it, so a later
	// snapshot of the same table does not reuse them.
	ID string
	// Active are the tables being read, in the order they started.
	Active []Cursor
	// Pending are the tables to start after Active, in order.
	Pending []string
}

// Cursor is how far one table's read has come.
type Cursor struct {
	// Table is "db.table".
	Table string
	// After holds the canonical key values (in key order) of the last row
	// of the last emitted chunk; nil: start at the table's first row.
	After []any
}

// New starts a snapshot named id of tables (nil when there are none).
func New(id string, tables []string) *State {
	if len(tables) == 0 {
		return nil
	}
	return &State{ID: id, Pending: slices.Clone(tables)}
}

// NewID names an on-demand snapshot started at position at: the position
// plus the time, so two snapshots of a table never share event ids, even
// when no transaction separates them.
func NewID(at string, now time.Time) string {
	return at + "~" + now.UTC().Format("20060102T150405.000000Z")
}

// Clone returns a copy that shares no slices with s.
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := &State{ID: s.ID, Pending: slices.Clone(s.Pending)}
	for _, a := range s.Active {
		c.Active = append(c.Active, Cursor{Table: a.Table, After: slices.Clone(a.After)})
	}
	return c
}

// Cursor returns the cursor of an active table.
func (s *State) Cursor(table string) (Cursor, bool) {
	if s != nil {
		for _, a := range s.Active {
			if a.Table == table {
				return a, true
			}
		}
	}
	return Cursor{}, false
}

// Start moves pending tables to Active until n tables are active, and
// returns the new state and the tables it started.
func (s *State) Start(n int) (*State, []Cursor) {
	c := s.Clone()
	if c == nil {
		return nil, nil
	}
	var started []Cursor
	for len(c.Active) < n && len(c.Pending) > 0 {
		cur := Cursor{Table: c.Pending[0]}
		c.Active = append(c.Active, cur)
		c.Pending = c.Pending[1:]
		started = append(started, cur)
	}
	return c, started
}

// Advance returns the state with table's cursor after key (the last row of
// an emitted chunk). A table that is not active is left as it is.
func (s *State) Advance(table string, key []any) *State {
	c := s.Clone()
	if c == nil {
		return nil
	}
	for i := range c.Active {
		if c.Active[i].Table == table {
			c.Active[i].After = slices.Clone(key)
		}
	}
	return c
}

// Finish returns the state without table (its last chunk was emitted):
// nil once no table is active or pending.
func (s *State) Finish(table string) *State {
	c := s.Clone()
	if c == nil {
		return nil
	}
	c.Active = slices.DeleteFunc(c.Active, func(a Cursor) bool { return a.Table == table })
	if len(c.Active) == 0 && len(c.Pending) == 0 {
		return nil
	}
	return c
}

// Has reports whether table is active or pending.
func (s *State) Has(table string) bool {
	if s == nil {
		return false
	}
	_, active := s.Cursor(table)
	return active || slices.Contains(s.Pending, table)
}

// Tables lists the active and pending tables.
func (s *State) Tables() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range s.Active {
		out = append(out, a.Table)
	}
	return append(out, s.Pending...)
}

// AddTables adds tables to a snapshot: a nil state becomes a new snapshot
// named id; otherwise the tables not already active or pending are
// appended to Pending. It returns the state and the tables it added.
func AddTables(s *State, id string, tables []string) (*State, []string) {
	c := s.Clone()
	var added []string
	for _, t := range tables {
		if c == nil {
			c = &State{ID: id}
		}
		if c.Has(t) {
			continue
		}
		c.Pending = append(c.Pending, t)
		added = append(added, t)
	}
	return c, added
}

// String describes the state for logs.
func (s *State) String() string {
	if s == nil {
		return "none"
	}
	var b strings.Builder
	for i, a := range s.Active {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Table)
		if a.After != nil {
			b.WriteString(" (resuming)")
		}
	}
	if len(s.Pending) > 0 {
		fmt.Fprintf(&b, "; %d tables pending", len(s.Pending))
	}
	return b.String()
}

// wire is the JSON shape of State. Key values are typed ({"i":"-5"},
// {"s":"abc"}, ...) so that they decode to exactly the canonical values
// they were. Table/After are the single-table form written before parallel
// reads existed; Decode still reads it.
type wire struct {
	ID      string       `json:"id,omitempty"`
	Active  []wireCursor `json:"active,omitempty"`
	Pending []string     `json:"pending,omitempty"`

	Table string            `json:"table,omitempty"`
	After []json.RawMessage `json:"after,omitempty"`
}

type wireCursor struct {
	Table string            `json:"table"`
	After []json.RawMessage `json:"after,omitempty"`
}

// Encode writes s as base64url JSON, the form positions carry.
func (s *State) Encode() string {
	w := wire{ID: s.ID, Pending: s.Pending}
	for _, a := range s.Active {
		wc := wireCursor{Table: a.Table}
		for _, v := range a.After {
			wc.After = append(wc.After, capture.EncodeKeyValue(v))
		}
		w.Active = append(w.Active, wc)
	}
	b, _ := json.Marshal(w) // only strings and raw JSON built above
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads what Encode wrote.
func Decode(text string) (*State, error) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("not snapshot JSON: %w", err)
	}
	if w.Table != "" {
		w.Active = append([]wireCursor{{Table: w.Table, After: w.After}}, w.Active...)
	}
	s := &State{ID: w.ID, Pending: w.Pending}
	for _, t := range append(tablesOf(w.Active), w.Pending...) {
		if db, tbl, ok := strings.Cut(t, "."); !ok || db == "" || tbl == "" {
			return nil, fmt.Errorf("table %q is not db.table", t)
		}
	}
	for _, wc := range w.Active {
		c := Cursor{Table: wc.Table}
		for i, raw := range wc.After {
			v, err := capture.DecodeKeyValue(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: key value %d: %w", wc.Table, i, err)
			}
			c.After = append(c.After, v)
		}
		s.Active = append(s.Active, c)
	}
	if len(s.Active) == 0 && len(s.Pending) == 0 {
		return nil, fmt.Errorf("no table to read")
	}
	return s, nil
}

func tablesOf(cs []wireCursor) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Table
	}
	return out
}
