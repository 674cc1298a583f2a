package mysql

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// windowEvent is a row change of a table being snapshotted that the stream
// loop emitted while a chunk of it was read or waited to be emitted.
type windowEvent struct {
	At  Position // the rows event's position
	Key string   // snapshot.KeyString of the row's key (before or after image)
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
// A zero low (the MySQL flavor, see readChunk) drops every key changed
// since the watch began.
//
// events must be the changes of the chunk's table emitted before the chunk,
// in any order.
func survivors(rows [][]any, key []int, events []windowEvent, low Position) []int {
	changed := make(map[string]bool)
	for _, e := range events {
		if low.File == "" || e.At.Compare(low) >= 0 {
			changed[e.Key] = true
		}
	}
	keep := make([]int, 0, len(rows))
	for i, row := range rows {
		if !changed[snapshot.KeyString(row, key)] {
			keep = append(keep, i)
		}
	}
	return keep
}

// work is what a snapshot reader reads next: a table from its cursor.
type work struct {
	id  string // snapshot.State.ID, part of the event ids of its rows
	cur snapshot.Cursor
}

// snapMerge is the stream loop's side of a running snapshot: the pending
// work, the tables whose changes are recorded, and the chunks waiting for
// the stream. Only the stream loop's goroutine touches it.
//
// Every active table of the state has exactly one reader; a reader whose
// table is finished takes the next pending table (advance), and more
// readers start while fewer than parallel tables are active (begin, add).
type snapMerge struct {
	// state is the pending work as of the last emitted chunks, carried in
	// every Commit position; nil once the snapshot finished. It is
	// replaced, never changed in place.
	state    *snapshot.State
	parallel int
	// watches holds, per table with a chunk being read or waiting, the row
	// changes emitted since its reader asked to record them.
	watches map[string][]windowEvent
	// pending are the chunks read and waiting for the stream to pass their
	// high watermark, in high watermark order: at most one per reader.
	pending []*chunk
	// start runs a new reader for w.
	start func(w work)
}

func newSnapMerge(state *snapshot.State, parallel int, start func(work)) *snapMerge {
	return &snapMerge{state: state, parallel: max(parallel, 1), watches: map[string][]windowEvent{}, start: start}
}

// begin starts a reader for every active table (a checkpoint written with
// a larger parallel may hold more than parallel: all of them resume) and
// for pending tables while fewer than parallel are active.
func (m *snapMerge) begin() {
	m.state, _ = m.state.Start(m.parallel)
	if m.state == nil {
		return
	}
	for _, cur := range m.state.Active {
		m.start(work{id: m.state.ID, cur: cur})
	}
}

// add queues requested tables: appended to the running snapshot, or a new
// snapshot named id when none runs. Readers start for them while fewer
// than parallel tables are active. It returns the tables added.
func (m *snapMerge) add(id string, tables []string) []string {
	var added []string
	var started []snapshot.Cursor
	m.state, added = snapshot.AddTables(m.state, id, tables)
	m.state, started = m.state.Start(m.parallel)
	for _, cur := range started {
		m.start(work{id: m.state.ID, cur: cur})
	}
	return added
}

// watch starts recording the row changes of table, for its next chunk.
func (m *snapMerge) watch(table string) { m.watches[table] = nil }

// observe records a row change of a watched table.
func (m *snapMerge) observe(t *capture.Table, at Position, before, after []any) {
	if len(m.watches) == 0 {
		return
	}
	name := t.Database + "." + t.Name
	evs, ok := m.watches[name]
	if !ok {
		return
	}
	for _, img := range [][]any{before, after} {
		if img != nil {
			evs = append(evs, windowEvent{At: at, Key: snapshot.KeyString(img, t.Key)})
		}
	}
	m.watches[name] = evs
}

// queue holds c until the stream has passed its high watermark.
func (m *snapMerge) queue(c *chunk) {
	i := len(m.pending)
	for i > 0 && m.pending[i-1].high.Compare(c.high) > 0 {
		i--
	}
	m.pending = slices.Insert(m.pending, i, c)
}

// advance moves the state past the emitted chunk c and returns its
// reader's next work: the table's next chunk, the next pending table once
// the table is finished, or nil (the reader ends).
func (m *snapMerge) advance(c *chunk) *work {
	if !c.done {
		m.state = m.state.Advance(c.name, snapshot.KeyOf(c.rows[len(c.rows)-1], c.table.Key))
		if cur, ok := m.state.Cursor(c.name); ok {
			return &work{id: m.state.ID, cur: cur}
		}
		return nil
	}
	var started []snapshot.Cursor
	m.state, started = m.state.Finish(c.name).Start(m.parallel)
	if len(started) == 0 {
		return nil
	}
	for _, cur := range started[1:] {
		m.start(work{id: m.state.ID, cur: cur})
	}
	return &work{id: m.state.ID, cur: started[0]}
}

// reached reports whether the stream has emitted every transaction that
// started before high and is not inside a transaction.
func (st *streamState) reached(high Position) bool {
	return !st.txOpen && st.readPos().Compare(high) >= 0
}

// emitReady emits, lowest high watermark first, the pending chunks whose
// high watermark ready reports the stream has passed.
func (st *streamState) emitReady(ctx context.Context, ready func(high Position) bool) error {
	m := st.snap
	for len(m.pending) > 0 && ready(m.pending[0].high) {
		c := m.pending[0]
		m.pending = slices.Delete(m.pending, 0, 1)
		if err := st.emitChunk(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// emitChunk hands c's surviving rows to the handler as "r" changes, then a
// Commit at the current resume position whose snapshot part has moved past
// the chunk, and lets c's reader go on.
func (st *streamState) emitChunk(ctx context.Context, c *chunk) error {
	m := st.snap
	var keep []int
	if c.table != nil { // nil: a table skipped without reading
		keep = survivors(c.rows, c.table.Key, m.watches[c.name], c.low)
	}
	delete(m.watches, c.name)
	now := time.Now()
	resume := st.boundary.String()
	for _, i := range keep {
		ch := &capture.Change{
			Op: capture.OpRead, Table: c.table, After: c.rows[i], Snapshot: true,
			Position: resume, EventPosition: snapshot.RowEventPosition(c.name, c.table, c.rows[i], c.id), CommitTime: now,
		}
		st.src.stats.changes.Add(1)
		if err := st.h.Change(ctx, ch); err != nil {
			return fmt.Errorf("handle snapshot row of %s: %w", c.name, err)
		}
	}
	// The loop's state (not the reader's) is the authority: requests may
	// have appended tables, and other tables have moved on meanwhile.
	c.next = m.advance(c)
	if m.state == nil {
		st.src.log.Info("snapshot finished")
	}
	pos := st.resumePos()
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
