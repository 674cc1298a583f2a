package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// xidRing remembers the begin sequence (snapRun.seq) of the last
// transactions the loop emitted, by xid, so the loop can tell whether a
// transaction a chunk's snapshot did not see was emitted before the
// chunk's watch started. Only the loop touches it.
type xidRing struct {
	seq  map[uint32]uint64
	xids []uint32
	next int
}

// ringSize bounds the memory (about 1 MiB); a transaction that stays
// invisible while this many others commit after it is not a practical case.
const ringSize = 1 << 16

func (r *xidRing) put(xid uint32, seq uint64) {
	if r.seq == nil {
		r.seq, r.xids = make(map[uint32]uint64, ringSize), make([]uint32, 0, ringSize)
	}
	if len(r.xids) < ringSize {
		r.xids = append(r.xids, xid)
	} else {
		old := r.xids[r.next]
		if r.seq[old] <= seq { // not re-used by a later transaction
			delete(r.seq, old)
		}
		r.xids[r.next] = xid
		r.next = (r.next + 1) % ringSize
	}
	r.seq[xid] = seq
}

func (r *xidRing) get(xid uint32) (uint64, bool) {
	s, ok := r.seq[xid]
	return s, ok
}

// emitChunk is the loop's side of a chunk whose watermark message it just
// decoded (inside the watermark's transaction): it emits the chunk's rows
// that are still current as "r" changes and moves the state past the
// chunk; the watermark transaction's Commit then carries that state, and
// the reader is released once it was handed over. Tokens the loop does not
// know (an earlier run's watermarks, re-read after a restart) are ignored.
func (st *streamState) emitChunk(ctx context.Context, token string) error {
	run := st.run
	run.mu.Lock()
	c := run.chunks[token]
	delete(run.chunks, token)
	if c != nil && c.watch != nil && run.watches[c.name] == c.watch {
		delete(run.watches, c.name)
		run.watching.Store(int32(len(run.watches)))
	}
	run.mu.Unlock()
	if c == nil {
		return nil
	}
	if c.watch != nil && st.racedWatch(c) {
		c.retry = true
		close(c.emitted)
		return nil
	}
	var keep []int
	if c.table != nil {
		keep = survivors(c)
	}
	// Events carry the LSN only; the snapshot's state travels in the
	// Commit's position (the checkpoint), not in every message.
	pos := st.lastCommit.String()
	now := time.Now()
	for _, i := range keep {
		ch := &capture.Change{
			Op: capture.OpRead, Table: c.table, After: c.rows[i], Snapshot: true,
			Position: pos, EventPosition: snapshot.RowEventPosition(c.name, c.table, c.rows[i], c.id), CommitTime: now,
		}
		if err := st.h.Change(ctx, ch); err != nil {
			return fmt.Errorf("handle snapshot row of %s: %w", c.name, err)
		}
	}
	run.mu.Lock()
	if c.done {
		run.setState(run.state.Finish(c.name))
	} else {
		run.setState(run.state.Advance(c.name, snapshot.KeyOf(c.rows[len(c.rows)-1], c.table.Key)))
	}
	run.mu.Unlock()
	st.released = append(st.released, c)
	return nil
}

// racedWatch reports whether a transaction that c's snapshot did not see
// was (even partly) emitted before c's watch started: its changes are not
// recorded, so the chunk cannot be merged and is read again. Such a
// transaction is in xip (committed while the snapshot was taken), or at or
// past xmax: its commit was decoded and streamed, but it was not yet
// visible when the chunk was read (e.g. waiting for a synchronous
// standby). Every emitted transaction committed, so any of them the
// snapshot does not see is one of these.
func (st *streamState) racedWatch(c *pgChunk) bool {
	for xid, seq := range st.ring.seq {
		if seq <= c.watch.startSeq && !c.snap.visible(xid) {
			return true
		}
	}
	return false
}

// survivors returns the indexes of c's rows that no transaction emitted
// before them made stale: one the snapshot did not see that changed the
// row's key (or truncated the table). Changes the snapshot saw are already
// in the rows.
func survivors(c *pgChunk) []int {
	stale := map[string]bool{}
	for _, e := range c.watch.events {
		if !c.snap.visible(e.xid) {
			if e.key == "*" {
				return nil
			}
			stale[e.key] = true
		}
	}
	keep := make([]int, 0, len(c.rows))
	for i, row := range c.rows {
		if !stale[snapshot.KeyString(row, c.table.Key)] {
			keep = append(keep, i)
		}
	}
	return keep
}

// observe records a change of a table a chunk is being read of.
func (st *streamState) observe(r *relation, op capture.Op, before, after []any) {
	if st.run == nil || st.run.watching.Load() == 0 {
		return
	}
	name := r.table.Database + "." + r.table.Name
	xid := st.begin.Xid
	switch {
	case op == capture.OpTruncate:
		st.run.observe(name, xid, "*")
	case before != nil && after != nil:
		st.run.observe(name, xid, snapshot.KeyString(before, r.table.Key), snapshot.KeyString(after, r.table.Key))
	case before != nil:
		st.run.observe(name, xid, snapshot.KeyString(before, r.table.Key))
	case after != nil:
		st.run.observe(name, xid, snapshot.KeyString(after, r.table.Key))
	}
}

// release lets the readers of the chunks emitted in the transaction just
// handed over go on.
func (st *streamState) release() {
	for _, c := range st.released {
		close(c.emitted)
	}
	st.released = st.released[:0]
}
