package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// snapRun is the snapshot machinery of one Stream call: the pending work
// (State, carried in every position the stream hands over), the readers
// (up to snapshot.parallel tables at once, each on its own connection),
// and what the stream loop and the readers exchange.
//
// The algorithm per chunk (DBLog's watermarks, made exact with MVCC
// snapshots instead of guessing from positions):
//  1. the reader asks the loop to record the keys and xids of the table's
//     changes from now on (watch);
//  2. it reads the chunk in a REPEATABLE READ transaction and notes the
//     transaction's snapshot (pg_current_snapshot());
//  3. it writes a logical decoding message (the high watermark) in a
//     transaction of its own, committed after the snapshot was taken, so
//     every transaction visible in the chunk precedes it in the stream;
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
	s    *Source
	cfg  snapshot.Config
	lim  *snapshot.Limiter
	ctx  context.Context
	fail func(error) // stops the stream with the reader's error

	// seq counts the transactions the loop has begun; a watch starts at a
	// value of it. Written by the loop only.
	seq atomic.Uint64
	// lastLSN is the loop's last commit position, naming new snapshots.
	lastLSN atomic.Uint64
	// watching is len(watches), read by the loop without the lock.
	watching atomic.Int32
	// enc is the encoded state (nil: none), read by the loop per position.
	enc atomic.Pointer[string]

	mu      sync.Mutex
	state   *snapshot.State
	owned   map[string]bool // tables a reader is reading
	workers int
	watches map[string]*watch
	chunks  map[string]*pgChunk // by watermark token
	wg      sync.WaitGroup
}

// watch is a table's changes recorded while a chunk of it is in flight.
type watch struct {
	startSeq uint64
	events   []watchedChange
}

// watchedChange is a key (snapshot.KeyString; "*" for a TRUNCATE) a
// transaction changed.
type watchedChange struct {
	xid uint32
	key string
}

func newSnapRun(ctx context.Context, s *Source, state *snapshot.State, fail func(error)) *snapRun {
	run := &snapRun{
		s: s, cfg: s.cfg.Snapshot, lim: snapshot.NewLimiter(s.cfg.Snapshot), ctx: ctx, fail: fail,
		owned: map[string]bool{}, watches: map[string]*watch{}, chunks: map[string]*pgChunk{},
	}
	run.setState(state)
	return run
}

// setState replaces the state; the caller holds mu (or owns run).
func (run *snapRun) setState(st *snapshot.State) {
	run.state = st
	if st == nil {
		run.enc.Store(nil)
		return
	}
	e := snapshotSep + st.Encode()
	run.enc.Store(&e)
}

// position is lsn with the pending snapshot work.
func (run *snapRun) position(lsn pglogrepl.LSN) string {
	if e := run.enc.Load(); e != nil {
		return lsn.String() + *e
	}
	return lsn.String()
}

// add queues tables (a new snapshot when none runs) and starts readers for
// them; it returns the tables added.
func (run *snapRun) add(tables []string) []string {
	run.mu.Lock()
	id := snapshot.NewID(pglogrepl.LSN(run.lastLSN.Load()).String(), time.Now())
	st, added := snapshot.AddTables(run.state, id, tables)
	run.setState(st)
	run.mu.Unlock()
	run.spawn()
	return added
}

// spawn starts readers while fewer than snapshot.parallel run and tables
// wait for one.
func (run *snapRun) spawn() {
	run.mu.Lock()
	defer run.mu.Unlock()
	for run.workers < run.cfg.Parallel && run.hasWorkLocked() {
		run.workers++
		run.wg.Go(run.worker)
	}
}

func (run *snapRun) hasWorkLocked() bool {
	if run.state == nil {
		return false
	}
	for _, a := range run.state.Active {
		if !run.owned[a.Table] {
			return true
		}
	}
	return len(run.state.Pending) > 0
}

// take hands a reader the next table: an active one no reader owns (a
// resumed snapshot), else the next pending one. When there is none the
// reader is done: it is uncounted under the same lock, so that add's spawn
// cannot miss work.
func (run *snapRun) take() (id string, cur snapshot.Cursor, ok bool) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.state != nil {
		for _, a := range run.state.Active {
			if !run.owned[a.Table] {
				run.owned[a.Table] = true
				return run.state.ID, a, true
			}
		}
		if st, started := run.state.Start(len(run.state.Active) + 1); len(started) > 0 {
			run.setState(st)
			run.owned[started[0].Table] = true
			return st.ID, started[0], true
		}
	}
	run.workers--
	return "", snapshot.Cursor{}, false
}

// worker reads tables until none is left, on its own connection.
func (run *snapRun) worker() {
	r, err := run.s.NewReader()
	if err != nil {
		run.mu.Lock()
		run.workers--
		run.mu.Unlock()
		run.fail(err)
		return
	}
	defer r.Close()
	for {
		id, cur, ok := run.take()
		if !ok {
			return
		}
		if err := run.readTable(run.ctx, r, id, cur); err != nil {
			if run.ctx.Err() == nil {
				run.fail(err)
			}
			run.mu.Lock()
			run.workers--
			run.mu.Unlock()
			return
		}
		run.mu.Lock()
		delete(run.owned, cur.Table)
		finished := run.state == nil
		run.mu.Unlock()
		if finished {
			run.s.log.Info("snapshot finished")
		}
	}
}

// watch starts recording table's changes.
// The start sequence is taken after the watch is registered, under the
// lock observe takes: a transaction begun after it has every change
// recorded, and one begun before it counts as emitted before the watch.
func (run *snapRun) watch(table string) *watch {
	w := &watch{}
	run.mu.Lock()
	run.watches[table] = w
	run.watching.Store(int32(len(run.watches)))
	w.startSeq = run.seq.Load()
	run.mu.Unlock()
	return w
}

func (run *snapRun) unwatch(table string) {
	run.mu.Lock()
	delete(run.watches, table)
	run.watching.Store(int32(len(run.watches)))
	run.mu.Unlock()
}

func (run *snapRun) addChunk(c *pgChunk) {
	run.mu.Lock()
	run.chunks[c.token] = c
	run.mu.Unlock()
}

func (run *snapRun) dropChunk(c *pgChunk) {
	run.mu.Lock()
	delete(run.chunks, c.token)
	if c.watch != nil && run.watches[c.name] == c.watch {
		delete(run.watches, c.name)
		run.watching.Store(int32(len(run.watches)))
	}
	run.mu.Unlock()
}

// observe records a change of a watched table; called by the loop.
func (run *snapRun) observe(table string, xid uint32, keys ...string) {
	run.mu.Lock()
	if w := run.watches[table]; w != nil {
		for _, k := range keys {
			w.events = append(w.events, watchedChange{xid: xid, key: k})
		}
	}
	run.mu.Unlock()
}

// wait stops the readers' use of the stream; called when Stream returns.
func (run *snapRun) wait() { run.wg.Wait() }
