package postgres

import (
	"context"

	"github.com/tributary-cdc/tributary/capture"
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
	eng := st.run.eng
	taken := eng.Take(func(c *chunk) bool { return c.Token == token })
	if len(taken) == 0 {
		return nil
	}
	c := taken[0]
	if w, ok := c.Window.(window); ok && st.racedWatch(w) {
		eng.Retry(c)
		return nil
	}
	// Events carry the LSN only; the snapshot's state travels with the
	// Commit (into the checkpoint), not in every message.
	if _, err := eng.Emit(ctx, st.h, c, st.lastCommit.String()); err != nil {
		return err
	}
	st.released = append(st.released, c)
	return nil
}

// racedWatch reports whether a transaction that w's snapshot did not see
// was (even partly) emitted before w's watch started: its changes are not
// recorded, so the chunk cannot be merged and is read again. Such a
// transaction is in xip (committed while the snapshot was taken), or at or
// past xmax: its commit was decoded and streamed, but it was not yet
// visible when the chunk was read (e.g. waiting for a synchronous
// standby). Every emitted transaction committed, so any of them the
// snapshot does not see is one of these.
func (st *streamState) racedWatch(w window) bool {
	for xid, seq := range st.ring.seq {
		if seq <= w.startSeq && !w.snap.visible(xid) {
			return true
		}
	}
	return false
}

// observe records a change of a table a chunk is being read of.
func (st *streamState) observe(r *relation, op capture.Op, before, after []any) {
	if op == capture.OpTruncate {
		st.run.eng.ObserveTruncate(r.table, st.begin.Xid)
		return
	}
	st.run.eng.Observe(r.table, st.begin.Xid, before, after)
}

// release lets the readers of the chunks emitted in the transaction just
// handed over go on.
func (st *streamState) release() {
	for _, c := range st.released {
		st.run.eng.Release(c)
	}
	st.released = st.released[:0]
}
