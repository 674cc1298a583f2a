package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// windowEvent is a row change of the table being snapshotted that the
// stream loop emitted while a chunk was read or waited to be emitted.
type windowEvent struct {
	At  Position // the rows event's position
	Key string   // keyString of the row's key (before or after image)
}

// survivors returns the indexes of the chunk rows that are still valid where
// the chunk is emitted. The chunk holds the table's state at some point of
// [low, high], and every transaction before low; the stream emits the chunk
// once it has passed high, so a row whose key was changed by an event at or
// after low may be older than an event already emitted and is dropped: that
// event (or a later one) carries the row's newer state. A rows event at or
// after low belongs to a transaction that started at or after low, since
// the binlog holds whole transactions and low is a transaction boundary.
//
// events must be the changes emitted before the chunk, in any order.
func survivors(rows [][]any, key []int, events []windowEvent, low Position) []int {
	changed := make(map[string]bool)
	for _, e := range events {
		if e.At.Compare(low) >= 0 {
			changed[e.Key] = true
		}
	}
	keep := make([]int, 0, len(rows))
	for i, row := range rows {
		if !changed[keyString(row, key)] {
			keep = append(keep, i)
		}
	}
	return keep
}

// snapMerge is the stream loop's side of a running snapshot. Only the
// stream loop's goroutine touches it.
type snapMerge struct {
	// state is the pending work as of the last emitted chunk, carried in
	// every Commit position; nil once the snapshot finished.
	state   *SnapshotState
	watch   string        // "db.table" whose row events are recorded
	events  []windowEvent // recorded since watch was set
	pending *chunk        // read, waiting for the stream to pass its high watermark
}

// observe records a row change of the watched table.
func (m *snapMerge) observe(t *capture.Table, at Position, before, after []any) {
	if m.watch == "" || t.Database+"."+t.Name != m.watch {
		return
	}
	for _, img := range [][]any{before, after} {
		if img != nil {
			m.events = append(m.events, windowEvent{At: at, Key: keyString(img, t.Key)})
		}
	}
}

// reached reports whether the stream has emitted every transaction that
// started before high and is not inside a transaction.
func (st *streamState) reached(high Position) bool {
	return !st.txOpen && st.readPos().Compare(high) >= 0
}

// emitChunk hands the pending chunk's surviving rows to the handler as "r"
// changes, then a Commit at the current resume position whose snapshot part
// has moved past the chunk.
func (st *streamState) emitChunk(ctx context.Context) error {
	m := st.snap
	c := m.pending
	var keep []int
	if c.table != nil { // nil: a table skipped without reading
		keep = survivors(c.rows, c.table.Key, m.events, c.low)
	}
	evPos := "snapshot:" + c.name + ":" + keyJSON(c.table, c.prev)
	if c.id != "" {
		evPos += "@" + c.id
	}
	now := time.Now()
	resume := st.boundary.String()
	for _, i := range keep {
		ch := &capture.Change{
			Op: capture.OpRead, Table: c.table, After: c.rows[i], Snapshot: true,
			Position: resume, EventPosition: evPos, RowIndex: i, CommitTime: now,
		}
		st.src.stats.changes.Add(1)
		if err := st.h.Change(ctx, ch); err != nil {
			return fmt.Errorf("handle snapshot row of %s: %w", c.name, err)
		}
	}
	// The state moves past the chunk; the loop's state (not the reader's)
	// is the authority, as requests may have appended tables meanwhile.
	next := m.state.skipTable()
	if !c.done && m.state != nil {
		last := c.rows[len(c.rows)-1]
		next = m.state.clone()
		next.After = make([]any, len(c.table.Key))
		for i, k := range c.table.Key {
			next.After[i] = last[k]
		}
	}
	m.state = next
	c.next = next.clone()
	m.pending, m.watch, m.events = nil, "", m.events[:0]
	pos := st.boundary
	pos.Snapshot = m.state
	commitTime := st.lastCommit
	if commitTime.IsZero() {
		commitTime = now
	}
	st.src.stats.commits.Add(1)
	if err := st.h.Commit(ctx, capture.Commit{Position: pos.String(), CommitTime: commitTime}); err != nil {
		return fmt.Errorf("handle snapshot commit of %s: %w", c.name, err)
	}
	close(c.emitted)
	return nil
}

// keyJSON writes key values as the key object events carry ({"id":42}),
// "start" for none.
func keyJSON(t *capture.Table, key []any) string {
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
