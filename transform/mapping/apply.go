package mapping

import (
	"fmt"
	"path"
	"slices"
	"sync/atomic"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// Output is one mapped event and where it goes.
type Output struct {
	Event transform.Event
	// Entity is the mapping's entity name, "" when it sets none. AppendJSON
	// writes it as the event's top-level "entity" field.
	Entity string
	// Topic is the mapped topic; "" means the table's usual topic
	// (transform.TopicName of the real table), as for unmapped tables.
	Topic string
	// Key is the Kafka message key: the JSON of Event.Key. Tombstones after
	// a delete reuse it.
	Key []byte
}

type tableID struct{ source, database, table string }

// plan is the cached decision for one table: its rules (nil: unmapped)
// and resolved topic.
type plan struct {
	r     *rules
	topic string
	table string // "db.table", for errors

	// The column rules of the last row and key layouts seen, so that rows of
	// the usual shape need no map lookup per column.
	rowLayout, keyLayout atomic.Pointer[layout]
}

// layout is the column rules (nil: none) for a sequence of column names.
type layout struct {
	names []string
	cols  []*column
}

// columns returns the rule of each field of row, by position. Build names
// fields with the table's own column name strings, so comparing a layout
// with a row of the same table is mostly pointer comparisons.
func (p *plan) columns(row transform.Row, key bool) []*column {
	slot := &p.rowLayout
	if key {
		slot = &p.keyLayout
	}
	if l := slot.Load(); l != nil && len(l.names) == len(row) {
		same := true
		for i := range row {
			if row[i].Name != l.names[i] {
				same = false
				break
			}
		}
		if same {
			return l.cols
		}
	}
	l := &layout{names: make([]string, len(row)), cols: make([]*column, len(row))}
	for i, f := range row {
		l.names[i], l.cols[i] = f.Name, p.r.cols[f.Name]
	}
	slot.Store(l)
	return l.cols
}

// claim records the first table routed to a shared topic.
type claim struct {
	id   tableID
	kind keyKind
}

// Apply maps one event of the named source. mapped is false when no
// mapping matches the event's table: dst is returned as it is and the
// caller sends ev unchanged. The decision is cached per table, so an
// unmapped table costs one map lookup under a read lock.
//
// A mapped event yields zero outputs (filtered out), one, or two (an update
// that changes a key.fields key: a delete of the old key, then a create of
// the new one, with id suffixes ".0" and ".1"). They are appended to dst.
//
// A row the rules cannot map (a value a cast refuses, a failing filter
// expression) is a *RowError: send DeadLetterRecord(ev, err) to a dead-letter
// topic and go on. Any other error means the configuration cannot work for
// this table (keys that collide on a shared topic); it is permanent.
//
// ev is not modified; outputs may share unchanged rows and values with it.
func (m *Mapper) Apply(dst []Output, source string, ev *transform.Event) (out []Output, mapped bool, err error) {
	if m == nil || len(m.rules) == 0 {
		return dst, false, nil
	}
	p, err := m.plan(tableID{source, ev.Source.Database, ev.Source.Table})
	if err != nil {
		return dst, true, err
	}
	if p == nil {
		return dst, false, nil
	}
	out, err = p.apply(dst, source, ev)
	if err != nil {
		return dst, true, err
	}
	return out, true, nil
}

// plan is the table's cached plan, nil when no mapping matches it.
func (m *Mapper) plan(id tableID) (*plan, error) {
	m.mu.RLock()
	p, ok := m.plans[id]
	m.mu.RUnlock()
	if ok {
		return p, nil
	}
	return m.newPlan(id)
}

// newPlan finds the first mapping of the table and, for a shared topic,
// checks that its keys cannot collide with another table's already there.
func (m *Mapper) newPlan(id tableID) (*plan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.plans[id]; ok {
		return p, nil
	}
	name := capture.TableID{Schema: id.database, Name: id.table}.String()
	var p *plan
	for _, r := range m.rules {
		if r.source != "" && r.source != id.source {
			continue
		}
		if ok, _ := path.Match(r.pattern, name); ok {
			p = &plan{r: r, topic: r.topic, table: name}
			if p.topic == "" && r.entity != "" {
				p.topic = transform.TopicName(m.prefix, id.source, id.database, r.entity)
			}
			break
		}
	}
	if p != nil && p.r.shared() {
		kind := p.r.keyKind()
		if c, ok := m.claims[p.topic]; !ok {
			m.claims[p.topic] = claim{id, kind}
		} else if keysMayCollide(c.kind, c.id.source, kind, id.source) {
			return nil, fmt.Errorf("%s: table %s of source %s would share topic %s with table %s.%s of source %s, "+
				"and their keys can collide: set key.include_source (tables of different sources), "+
				"key.fields, or a topic of its own", p.r.describe(), name, id.source, p.topic, c.id.database, c.id.table, c.id.source)
		}
	}
	m.plans[id] = p
	return p, nil
}

func (p *plan) apply(dst []Output, source string, ev *transform.Event) ([]Output, error) {
	r := p.r
	out := *ev
	if ev.Op == capture.OpTruncate {
		out.Key = transform.Row{}
		if r.includeSource {
			out.Key = transform.Row{{Name: "source", Value: source}}
		}
		return p.emit(dst, &out)
	}
	if r.filter != nil {
		keep, err := p.filterEvent(&out, ev)
		if err != nil || !keep {
			return dst, err
		}
	}
	var err error
	if out.Before, err = p.mapRow(out.Before, false); err != nil {
		return dst, err
	}
	if out.After, err = p.mapRow(out.After, false); err != nil {
		return dst, err
	}
	out.Absent.Before = r.mapNames(out.Absent.Before)
	out.Absent.After = r.mapNames(out.Absent.After)
	if len(r.keyFields) > 0 {
		return p.fieldsKey(dst, source, &out)
	}
	if out.Key, err = p.mapRow(out.Key, true); err != nil {
		return dst, err
	}
	if r.includeSource {
		if out.Key, err = p.withSource(source, out.Key); err != nil {
			return dst, err
		}
	}
	return p.emit(dst, &out)
}

// filterEvent decides, from the filter on the old and the new row state,
// what the consumer must be told (see docs/mapping.md, Filters).
func (p *plan) filterEvent(out, ev *transform.Event) (keep bool, err error) {
	match := func(before, after transform.Row) bool {
		if err != nil {
			return false
		}
		var ok bool
		if ok, err = p.r.filter.match(string(ev.Op), before, after); err != nil {
			err = p.rowErr("filter", "the expression failed at run time (its message is withheld: it may quote row values)", err)
		}
		return ok
	}
	switch ev.Op {
	case capture.OpCreate, capture.OpRead:
		keep = match(nil, ev.After)
	case capture.OpDelete:
		keep = match(nil, ev.Before)
	case capture.OpUpdate:
		isIn := match(ev.Before, ev.After)
		wasIn := ev.Before == nil || match(nil, ev.Before) // unknown old row: maybe held
		switch {
		case err != nil:
		case isIn && wasIn:
			keep = true
		case wasIn: // left the stream: the consumer must forget the row
			out.Op, out.After, out.Absent.After = capture.OpDelete, nil, nil
			keep = true
		case isIn: // entered the stream: the consumer has not seen the row
			out.Op, out.Before, out.Absent.Before = capture.OpCreate, nil, nil
			out.After, out.Absent.After = fillAbsent(ev.After, ev.Before, ev.Absent.After)
			keep = true
		}
	default:
		keep = true
	}
	return keep && err == nil, err
}

// mapRow applies cast, mask, rename, drop and add to one image. Drop and
// add do not apply to the key: it identifies the row.
func (p *plan) mapRow(in transform.Row, key bool) (transform.Row, error) {
	r := p.r
	if in == nil || r.cols == nil && (key || r.add == nil) {
		return in, nil
	}
	cols := p.columns(in, key)
	if key && !slices.ContainsFunc(cols, func(c *column) bool { return c != nil }) {
		return in, nil
	}
	n := len(in)
	if !key {
		n += len(r.add)
	}
	out := make(transform.Row, 0, n)
	for i, f := range in {
		c := cols[i]
		if c == nil || c.drop {
			if c == nil || key {
				out = append(out, f)
			}
			continue
		}
		v := f.Value
		var err error
		if c.cast != nil {
			if v, err = c.cast(v); err != nil {
				return nil, p.rowErr(c.castRule, err.Error(), nil)
			}
		}
		if c.mask != nil {
			if v, err = c.mask(v); err != nil {
				return nil, p.rowErr(c.maskRule, err.Error(), nil)
			}
		}
		out = append(out, transform.Field{Name: c.out, Value: v})
	}
	if !key {
		out = append(out, r.add...)
	}
	for _, pn := range r.produced {
		seen := 0
		for i := range out {
			if out[i].Name == pn.name {
				seen++
			}
		}
		if seen > 1 {
			return nil, p.rowErr(pn.rule, fmt.Sprintf("%q is already the name of another column of the table", pn.name), nil)
		}
	}
	return out, nil
}

// mapNames renames and drops absent column names.
func (r *rules) mapNames(names []string) []string {
	if len(names) == 0 || r.cols == nil {
		return names
	}
	var out []string
	for i, name := range names {
		c := r.cols[name]
		if c == nil || (!c.drop && c.out == name) {
			if out != nil {
				out = append(out, name)
			}
			continue
		}
		if out == nil {
			out = append(make([]string, 0, len(names)), names[:i]...)
		}
		if !c.drop {
			out = append(out, c.out)
		}
	}
	if out == nil {
		return names
	}
	return out
}

func (p *plan) emit(dst []Output, ev *transform.Event) ([]Output, error) {
	key, err := ev.Key.AppendJSON(make([]byte, 0, 64))
	if err != nil {
		return dst, p.rowErr("key", "the key does not encode as JSON", nil)
	}
	return append(dst, p.output(ev, key)), nil
}

func (p *plan) output(ev *transform.Event, key []byte) Output {
	return Output{Event: *ev, Entity: p.r.entity, Topic: p.topic, Key: key}
}

// fillAbsent gives columns absent from after their value in before: the
// consumer has not seen the row, so it has no value of its own to keep.
// Filled columns follow before's column order; the rest are appended.
func fillAbsent(after, before transform.Row, absent []string) (transform.Row, []string) {
	if len(absent) == 0 || before == nil {
		return after, absent
	}
	row := make(transform.Row, 0, len(after)+len(absent))
	var still []string
	for _, name := range absent {
		if _, ok := field(before, name); !ok {
			still = append(still, name)
		}
	}
	for _, f := range before {
		if v, ok := field(after, f.Name); ok {
			row = append(row, v)
		} else if contains(absent, f.Name) {
			row = append(row, f)
		}
	}
	for _, f := range after {
		if _, ok := field(row, f.Name); !ok {
			row = append(row, f)
		}
	}
	if still == nil {
		still = []string{}
	}
	return row, still
}

func field(row transform.Row, name string) (transform.Field, bool) {
	for _, f := range row {
		if f.Name == name {
			return f, true
		}
	}
	return transform.Field{}, false
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
