package mysql

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// chunk is a snapshot chunk of this source: its marks are the binlog
// positions of the rows events the stream emitted.
type chunk = snapshot.Chunk[Position]

// window ties a chunk to the binlog: the rows are the table's state
// somewhere in [low, high], and every transaction before low is in them.
// On MariaDB low == high: the read is a consistent snapshot at exactly
// that position. The stream emits the chunk once it has passed high.
type window struct{ low, high Position }

// Stale implements snapshot.Window: a row whose key was changed by a rows
// event at or after low may be older than that event, which the stream
// already emitted (or a later one carries the row's newer state). A rows
// event at or after low belongs to a transaction that started at or after
// low, since the binlog holds whole transactions and low is a transaction
// boundary.
//
// A zero low (the MySQL flavor, see readChunk) makes every key changed
// since the watch began stale.
func (w window) Stale(at Position) bool {
	return w.low.File == "" || at.Compare(w.low) >= 0
}

// highOf is where the stream must have come before c is emitted; a zero
// Position for a table skipped unread (ready at once).
func highOf(c *chunk) Position {
	if w, ok := c.Window.(window); ok {
		return w.high
	}
	return Position{}
}

// reached reports whether the stream has emitted every transaction that
// started before high and is not inside a transaction.
func (st *streamState) reached(high Position) bool {
	return !st.txOpen && st.readPos().Compare(high) >= 0
}

// emitReady emits, lowest high watermark first, the waiting chunks whose
// high watermark ready reports the stream has passed.
func (st *streamState) emitReady(ctx context.Context, ready func(high Position) bool) error {
	cs := st.snap.Take(func(c *chunk) bool { return ready(highOf(c)) })
	slices.SortStableFunc(cs, func(a, b *chunk) int { return highOf(a).Compare(highOf(b)) })
	for _, c := range cs {
		if err := st.emitChunk(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// emitChunk hands c's surviving rows to the handler as "r" changes, then a
// Commit at the current resume position whose snapshot work has moved past
// the chunk, and lets c's reader go on.
func (st *streamState) emitChunk(ctx context.Context, c *chunk) error {
	n, err := st.snap.Emit(ctx, st.h, c, st.boundary.eventString())
	st.src.stats.changes.Add(uint64(n))
	if err != nil {
		return err
	}
	pos := st.resumePos()
	pos.Snapshot = st.snap.State()
	commitTime := st.lastCommit
	if commitTime.IsZero() {
		commitTime = time.Now()
	}
	st.src.stats.commits.Add(1)
	if err := st.h.Commit(ctx, commitAt(pos, commitTime)); err != nil {
		return fmt.Errorf("handle snapshot commit of %s: %w", c.Name, err)
	}
	st.snap.Release(c)
	return nil
}
