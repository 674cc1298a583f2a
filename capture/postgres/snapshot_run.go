package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// snapRun is the snapshot of one Stream call: the shared engine
// (snapshot.Engine: the pending work, carried by every Commit the stream
// hands over, and up to snapshot.parallel readers) and the stream counters
// this source's windows and snapshot ids need.
//
// This source's part of the watermark algorithm per chunk (DBLog's
// watermarks, made exact with MVCC snapshots instead of guessing from
// positions):
//  1. the reader has the engine record the keys and xids of the table's
//     changes from now on (Watch), noting how many transactions the loop
//     has begun (seq);
//  2. it reads the chunk in a REPEATABLE READ transaction and notes the
//     transaction's snapshot (pg_current_snapshot()): its window;
//  3. it writes a logical decoding message (the high watermark, the
//     chunk's token) in a transaction of its own, committed after the
//     snapshot was taken, so every transaction visible in the chunk
//     precedes it in the stream;
//  4. when the loop decodes that message it emits the chunk's rows as "r"
//     changes, leaving out rows whose key was changed by a transaction
//     emitted before them that the snapshot did not see (the stream
//     already carried a newer state); the watermark's Commit carries the
//     state moved past the chunk.
//
// A transaction is emitted in commit order but becomes visible a moment
// after its commit record is written (longer with synchronous replication),
// so one emitted before the watch started may still be invisible to the
// snapshot (in its xip list, or at or past its xmax while the commit waits
// for a synchronous standby); the loop recognises that case (racedWatch)
// and has the chunk read again.
type snapRun struct {
	eng *snapshot.Engine[uint32]
	// seq counts the transactions the loop has begun; a watch starts at a
	// value of it. Written by the loop only.
	seq atomic.Uint64
	// lastLSN is the loop's last commit position, naming new snapshots.
	lastLSN atomic.Uint64
}

// chunk is a snapshot chunk of this source: its marks are the xids of the
// transactions the stream emitted.
type chunk = snapshot.Chunk[uint32]

func newSnapRun(ctx context.Context, s *Source, state *snapshot.State, fail func(error)) *snapRun {
	run := &snapRun{}
	run.eng = snapshot.NewEngine(ctx, state, snapshot.Options[uint32]{
		Source: s.name, Config: s.cfg.Snapshot, Log: s.log, Progress: &s.progress, Fail: fail,
		NewReader: func() (snapshot.ChunkReader[uint32], error) {
			r, err := s.NewReader()
			if err != nil {
				return nil, err
			}
			return &chunkReader{run: run, r: r}, nil
		},
	})
	return run
}

// commitAt is the Commit of a transaction ending at lsn, committed at t,
// with the pending snapshot work.
func (run *snapRun) commitAt(lsn pglogrepl.LSN, t time.Time) capture.Commit {
	c := capture.Commit{Position: lsn.String(), CommitTime: t}
	c.Snapshot, _ = run.eng.Encoded()
	return c
}

// add queues tables (a new snapshot when none runs) and starts readers for
// them; it returns the tables added.
func (run *snapRun) add(tables []string) ([]string, bool) {
	id := snapshot.NewID(pglogrepl.LSN(run.lastLSN.Load()).String(), time.Now())
	return run.eng.Add(id, tables)
}

// spawn starts readers for the work the state holds.
func (run *snapRun) spawn() { run.eng.Start() }

// wait stops the readers' use of the stream; called when Stream returns.
func (run *snapRun) wait() { run.eng.Wait() }

// window ties a chunk to the WAL: the MVCC snapshot it was read in, and
// the loop's transaction count when its watch began.
type window struct {
	snap     txSnapshot
	startSeq uint64
}

// Stale implements snapshot.Window: a change by a transaction the
// snapshot did not see is newer than the chunk's rows. Changes the
// snapshot saw are already in the rows.
func (w window) Stale(xid uint32) bool { return !w.snap.visible(xid) }

// chunkReader reads this source's tables for the snapshot engine, on a
// connection of its own.
type chunkReader struct {
	run *snapRun
	r   *Reader
}

var _ snapshot.ChunkReader[uint32] = (*chunkReader)(nil)

func (c *chunkReader) Table(ctx context.Context, schema, table string) (*capture.Table, error) {
	return c.r.Table(ctx, schema, table)
}

func (c *chunkReader) ApproxRows(ctx context.Context, schema, table string) (int64, error) {
	return c.r.ApproxRows(ctx, schema, table)
}

// ReadChunk starts the table's watch, then reads the chunk in a
// REPEATABLE READ transaction whose snapshot is its window. The watch's
// start is read under the engine's lock, after the watch is registered: a
// transaction the loop begins after it has every change recorded, and one
// begun before it counts as emitted before the watch.
func (c *chunkReader) ReadChunk(ctx context.Context, q snapshot.ChunkRequest) (snapshot.Read[uint32], error) {
	var startSeq uint64
	rd := snapshot.Read[uint32]{Watch: c.run.eng.Watch(q.Name, func() { startSeq = c.run.seq.Load() })}
	t, rows, cut, ts, err := c.r.readChunkConsistent(ctx, q.Schema, q.Table, q.After, q.Limit, q.MaxBytes)
	if err != nil {
		return rd, err
	}
	rd.Table, rd.Rows, rd.Cut, rd.Window = t, rows, cut, window{snap: ts, startSeq: startSeq}
	return rd, nil
}

// Place writes the chunk's high watermark.
func (c *chunkReader) Place(ctx context.Context, ch *chunk) error {
	return c.r.emitWatermark(ctx, ch.Token)
}

func (c *chunkReader) Close() error { return c.r.Close() }
