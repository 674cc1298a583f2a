package transform

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// Build turns one change into its canonical events: one event, or two for
// an update that changes the key (see the package doc). now is the build
// time written to the event's ts_ms.
//
// The change must be well formed, or Build returns an error naming the
// table and event position (never a value):
//
//   - source is non-empty, connector is ConnectorMySQL or ConnectorPostgres;
//   - Table is set and EventPosition is non-empty (the id depends on it);
//   - c and r have After and no Before; d has Before and no After; u has
//     After and may lack Before (PostgreSQL logs no old row by default);
//     t has neither;
//   - every image has one value per column;
//   - every op but t needs a non-empty Table.Key, and each key column must
//     be present (not capture.Absent) in at least one image, with a value
//     the encoder accepts.
//
// Other values are not checked here; Event.AppendJSON reports them.
func Build(source, connector string, c *capture.Change, now time.Time) ([]Event, error) {
	if err := checkChange(source, connector, c); err != nil {
		return nil, err
	}
	t := c.Table
	var idx [20]byte
	ev := Event{
		// string(bytes) in a concatenation does not allocate: one allocation.
		ID: source + ":" + c.EventPosition + "#" + string(strconv.AppendInt(idx[:0], int64(c.RowIndex), 10)),
		Op: c.Op,
		Source: Source{
			Connector: connector,
			Name:      source,
			ServerID:  c.ServerID,
			Database:  t.Database,
			Table:     t.Name,
			Position:  c.Position,
			GTID:      c.GTID,
			TxID:      c.TxID,
			TsMs:      unixMilli(c.CommitTime),
			Snapshot:  c.Snapshot,
		},
		TsMs: now.UnixMilli(),
	}
	if c.Op == capture.OpTruncate {
		ev.Key = Row{}
		return []Event{ev}, nil
	}
	if len(t.Key) == 0 {
		return nil, fmt.Errorf("table %s.%s has no primary key; configure key columns", t.Database, t.Name)
	}
	// One allocation holds both keys and both images; each part is sliced
	// with its capacity capped, so appending to one never writes into
	// another.
	nk := len(t.Key)
	fields := make([]Field, 2*nk+len(c.Before)+len(c.After))
	oldKey, newKey, keyChanged, err := keys(t, c.Before, c.After, fields[:nk:nk], fields[nk:2*nk:2*nk])
	if err != nil {
		return nil, fmt.Errorf("build event for %s.%s at %q: %w", t.Database, t.Name, c.EventPosition, err)
	}
	rest := fields[2*nk:]
	ev.Before, ev.Absent.Before = image(t, c.Before, rest[:0:len(c.Before)])
	ev.After, ev.Absent.After = image(t, c.After, rest[len(c.Before):len(c.Before)])
	switch {
	case c.Op == capture.OpDelete:
		ev.Key = oldKey
	case c.Op == capture.OpUpdate && keyChanged:
		return splitKeyChange(ev, t, c, oldKey, newKey), nil
	default:
		ev.Key = newKey
	}
	return []Event{ev}, nil
}

// splitKeyChange returns the delete of the old key and the create of the new
// one. Columns absent from the after image keep their before value: the row
// under the new key starts from the old row, and consumers have no earlier
// value to keep for a key they have not seen.
func splitKeyChange(ev Event, t *capture.Table, c *capture.Change, oldKey, newKey Row) []Event {
	del, cre := ev, ev
	del.ID += ".0"
	del.Op = capture.OpDelete
	del.Key = oldKey
	del.After = nil
	del.Absent.After = nil

	after := make([]any, len(c.After))
	for i, v := range c.After {
		if isAbsent(v) {
			v = c.Before[i]
		}
		after[i] = v
	}
	cre.ID += ".1"
	cre.Op = capture.OpCreate
	cre.Key = newKey
	cre.Before = nil
	cre.After, cre.Absent.After = image(t, after, nil)
	cre.Absent.Before = nil
	return []Event{del, cre}
}

func checkChange(source, connector string, c *capture.Change) error {
	if source == "" {
		return errors.New("build event: empty source name")
	}
	if connector != ConnectorMySQL && connector != ConnectorPostgres {
		return fmt.Errorf("build event: unknown connector %q", connector)
	}
	if c == nil || c.Table == nil {
		return errors.New("build event: change without table")
	}
	t := c.Table
	where := func(format string, args ...any) error {
		return fmt.Errorf("build event for %s.%s at %q: %s", t.Database, t.Name, c.EventPosition, fmt.Sprintf(format, args...))
	}
	if c.EventPosition == "" {
		return where("empty event position")
	}
	var needBefore, needAfter, allowBefore, allowAfter bool
	switch c.Op {
	case capture.OpCreate, capture.OpRead:
		needAfter, allowAfter = true, true
	case capture.OpUpdate:
		needAfter, allowAfter, allowBefore = true, true, true
	case capture.OpDelete:
		needBefore, allowBefore = true, true
	case capture.OpTruncate:
	default:
		return where("unknown op %q", c.Op)
	}
	switch {
	case needBefore && c.Before == nil:
		return where("op %q without before image", c.Op)
	case needAfter && c.After == nil:
		return where("op %q without after image", c.Op)
	case !allowBefore && c.Before != nil:
		return where("op %q with a before image", c.Op)
	case !allowAfter && c.After != nil:
		return where("op %q with an after image", c.Op)
	}
	n := len(t.Columns)
	if c.Before != nil && len(c.Before) != n {
		return where("before image has %d values for %d columns", len(c.Before), n)
	}
	if c.After != nil && len(c.After) != n {
		return where("after image has %d values for %d columns", len(c.After), n)
	}
	for _, k := range t.Key {
		if k < 0 || k >= n {
			return where("key index %d out of range for %d columns", k, n)
		}
	}
	return nil
}

// keys returns the key as it was (from before) and as it is (from after),
// filled into oldKey and newKey (len(t.Key) each), and whether they differ
// by their JSON encoding, so equal values of the canonical types compare
// equal without reflection. A key column absent in one image takes the
// other image's value; nil images count as all absent. Both keys are checked
// to encode, so EncodeKey cannot fail on them.
func keys(t *capture.Table, before, after []any, oldKey, newKey Row) (Row, Row, bool, error) {
	for j, i := range t.Key {
		name := t.Columns[i].Name
		ov, nv := at(before, i), at(after, i)
		if isAbsent(nv) {
			nv = ov
		}
		if isAbsent(ov) {
			ov = nv
		}
		if isAbsent(nv) {
			return nil, nil, false, fmt.Errorf("key column %q absent from both images", name)
		}
		oldKey[j] = Field{Name: name, Value: ov}
		newKey[j] = Field{Name: name, Value: nv}
	}
	var bufOld, bufNew [128]byte
	encOld, err := oldKey.AppendJSON(bufOld[:0])
	if err != nil {
		return nil, nil, false, fmt.Errorf("key: %w", err)
	}
	if before == nil || after == nil {
		// One image: each absent column took the other key's value, so
		// the keys are equal and one encoding checked both.
		return oldKey, newKey, false, nil
	}
	encNew, err := newKey.AppendJSON(bufNew[:0])
	if err != nil {
		return nil, nil, false, fmt.Errorf("key: %w", err)
	}
	return oldKey, newKey, !bytes.Equal(encOld, encNew), nil
}

// image returns the row image of vals without absent columns, appended to
// row (allocated when nil), and the names of those columns. nil vals gives a
// nil Row (JSON null).
func image(t *capture.Table, vals []any, row Row) (Row, []string) {
	if vals == nil {
		return nil, nil
	}
	if row == nil {
		row = make(Row, 0, len(vals))
	}
	var absent []string
	for i, v := range vals {
		if isAbsent(v) {
			absent = append(absent, t.Columns[i].Name)
			continue
		}
		row = append(row, Field{Name: t.Columns[i].Name, Value: v})
	}
	return row, absent
}

func at(vals []any, i int) any {
	if vals == nil {
		return capture.Absent
	}
	return vals[i]
}

func isAbsent(v any) bool { return v == any(capture.Absent) }

// unixMilli is t in Unix milliseconds, with the zero time (unknown) as 0.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
