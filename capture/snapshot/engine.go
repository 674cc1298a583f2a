package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// Engine runs a source's snapshot alongside its stream: the pending work
// (State, carried in the source's checkpoints), up to Config.Parallel
// readers (each reads one table at a time on a connection of its own), one
// rate limit for all of them, the progress, and the watches that make each
// chunk exact where the stream emits it. It is the chunked watermark
// algorithm of DBLog, the same for every source kind:
//
//  1. a reader has the stream record the keys of its table's changes from
//     now on (Watch; the source decides when "now" is);
//  2. it reads a chunk, which the source ties to the stream with a Window;
//  3. the chunk waits (Queued) until the stream loop reaches the place the
//     window names (Take), between transactions;
//  4. the loop emits the chunk's rows, leaving out every row whose key a
//     recorded change the window calls stale touched (the stream already
//     carried a newer state), and moves the state past the chunk (Emit);
//     its next Commit carries the state, then the reader goes on (Release)
//     or reads the chunk again (Retry).
//
// So each key's events stay in commit order: a snapshot row is emitted
// where its value was current, never after a newer change of its key.
//
// What differs between sources is only how a chunk is read and where it
// sits in the stream: a ChunkReader and its Window, with the mark type M
// that names where a change was emitted (a binlog position, an xid).
type Engine[M any] struct {
	cfg       Config
	log       *slog.Logger
	source    string // the source's name, for the errors an operator fixes in its config
	progress  *Progress
	lim       *Limiter
	newReader func() (ChunkReader[M], error)
	fail      func(error)
	ctx       context.Context

	// state is the pending work as of the last emitted chunks, read by the
	// stream loop for every position without the lock; enc is its
	// encoding. Both change only under mu.
	state atomic.Pointer[State]
	enc   atomic.Pointer[string]
	// watching is len(watches) and queued len(pending), read by the
	// stream loop without the lock on every change.
	watching, queued atomic.Int32
	signal           chan struct{}

	mu      sync.Mutex
	owned   map[string]bool // tables a reader is reading
	workers int
	watches map[string]*Watch[M]
	pending []*Chunk[M] // read and waiting for the stream, in the order they came
	closed  bool        // Wait was called: no reader starts any more
	wg      sync.WaitGroup
}

// Options are what a source gives NewEngine.
type Options[M any] struct {
	Source   string // the source's name (sources[<name>] in errors)
	Config   Config
	Log      *slog.Logger
	Progress *Progress // the source's, so progress outlives one Stream
	// NewReader opens a reader on a connection of its own.
	NewReader func() (ChunkReader[M], error)
	// Fail stops the stream with a reader's error; called once at most
	// per reader, never after ctx is done.
	Fail func(error)
}

// NewEngine returns an engine for state (nil: no snapshot yet) whose
// readers run until ctx is done. Start starts them.
func NewEngine[M any](ctx context.Context, state *State, o Options[M]) *Engine[M] {
	e := &Engine[M]{
		cfg: o.Config, log: o.Log, source: o.Source, progress: o.Progress, lim: NewLimiter(o.Config),
		newReader: o.NewReader, fail: o.Fail, ctx: ctx, signal: make(chan struct{}, 1),
		owned: map[string]bool{}, watches: map[string]*Watch[M]{},
	}
	e.setState(state)
	return e
}

// State is the pending work: what the source's next Commit must carry
// (nil once the snapshot finished). Safe to call from any goroutine.
func (e *Engine[M]) State() *State { return e.state.Load() }

// Encoded is State().Encode(), computed once per change of the state.
func (e *Engine[M]) Encoded() (string, bool) {
	if p := e.enc.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// setState replaces the state; the caller holds mu (or owns e).
func (e *Engine[M]) setState(st *State) {
	e.state.Store(st)
	if st == nil {
		e.enc.Store(nil)
		return
	}
	enc := st.Encode()
	e.enc.Store(&enc)
}

// Start starts readers for the state's work: every table a checkpoint
// left active (one written with a larger parallel may hold more than
// Parallel: all of them resume), and pending tables while fewer than
// Parallel are read.
func (e *Engine[M]) Start() {
	e.mu.Lock()
	n := 0
	if st := e.state.Load(); st != nil {
		n = len(st.Active)
	}
	e.mu.Unlock()
	e.spawn(max(e.cfg.Parallel, n))
}

// Add queues tables: appended to the running snapshot, or a new snapshot
// named id when none runs; a table already queued or being read is not
// added again. Readers start for them while fewer than Parallel run. It
// returns the tables added, and false (adding nothing) once Wait was
// called: the stream has ended, and the caller keeps the request for the
// next one.
func (e *Engine[M]) Add(id string, tables []string) ([]string, bool) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, false
	}
	st, added := AddTables(e.state.Load(), id, tables)
	e.setState(st)
	e.mu.Unlock()
	e.spawn(e.cfg.Parallel)
	return added, true
}

// Wait returns once every reader has ended; the stream calls it after it
// cancelled the engine's context. From then on Add refuses and no reader
// starts, so a request racing with the stream's end cannot start a reader
// after the wait (nor be lost: Add says so).
func (e *Engine[M]) Wait() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.wg.Wait()
}

// spawn starts readers while fewer than limit run and tables wait for one.
func (e *Engine[M]) spawn(limit int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for !e.closed && e.workers < max(limit, 1) && e.hasWorkLocked() {
		e.workers++
		e.wg.Go(e.worker)
	}
}

func (e *Engine[M]) hasWorkLocked() bool {
	st := e.state.Load()
	if st == nil {
		return false
	}
	for _, a := range st.Active {
		if !e.owned[a.Table] {
			return true
		}
	}
	return len(st.Pending) > 0
}

// take hands a reader its next table: an active one no reader owns (a
// resumed snapshot), else the next pending one. When there is none the
// reader is done: it is uncounted under the same lock, so that Add's spawn
// cannot miss work.
func (e *Engine[M]) take() (id string, cur Cursor, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.state.Load(); st != nil {
		for _, a := range st.Active {
			if !e.owned[a.Table] {
				e.owned[a.Table] = true
				return st.ID, a, true
			}
		}
		if next, started := st.Start(len(st.Active) + 1); len(started) > 0 {
			e.setState(next)
			e.owned[started[0].Table] = true
			return next.ID, started[0], true
		}
	}
	e.workers--
	return "", Cursor{}, false
}

// worker reads tables until none is left, on a connection of its own.
func (e *Engine[M]) worker() {
	r, err := e.newReader()
	if err != nil {
		e.mu.Lock()
		e.workers--
		e.mu.Unlock()
		e.failed(err)
		return
	}
	defer r.Close()
	for {
		id, cur, ok := e.take()
		if !ok {
			return
		}
		if err := e.readTable(e.ctx, r, id, cur); err != nil {
			e.failed(err)
			e.mu.Lock()
			e.workers--
			delete(e.owned, cur.Table)
			e.mu.Unlock()
			return
		}
		// Emit gave the table up when it finished it, so a request that
		// queues it again meanwhile gets one reader, not two.
	}
}

func (e *Engine[M]) failed(err error) {
	if e.ctx.Err() == nil {
		e.fail(err)
	}
}

// Queued is signalled when a chunk starts waiting for the stream: a loop
// that finds chunks by position (Take with a position test) checks then.
func (e *Engine[M]) Queued() <-chan struct{} { return e.signal }

// Queue holds c until the stream loop takes it. Readers queue every chunk
// they read; a test of a source's stream loop queues chunks standing in
// for a reader.
func (e *Engine[M]) Queue(c *Chunk[M]) {
	if c.emitted == nil {
		c.emitted = make(chan struct{})
	}
	e.mu.Lock()
	e.pending = append(e.pending, c)
	e.queued.Store(int32(len(e.pending)))
	e.mu.Unlock()
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// unqueue drops c, which the stream will not find (its watermark could
// not be written), and its watch.
func (e *Engine[M]) unqueue(c *Chunk[M]) {
	e.mu.Lock()
	if i := slices.Index(e.pending, c); i >= 0 {
		e.pending = slices.Delete(e.pending, i, i+1)
		e.queued.Store(int32(len(e.pending)))
	}
	e.unwatchLocked(c.Name, c.Watch)
	e.mu.Unlock()
}

// Take removes and returns, in the order they were queued, the waiting
// chunks the stream loop has reached (ready). The loop emits each with
// Emit, or has it read again with Retry.
func (e *Engine[M]) Take(ready func(*Chunk[M]) bool) []*Chunk[M] {
	if e.queued.Load() == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Chunk[M]
	e.pending = slices.DeleteFunc(e.pending, func(c *Chunk[M]) bool {
		if ready(c) {
			out = append(out, c)
			return true
		}
		return false
	})
	e.queued.Store(int32(len(e.pending)))
	return out
}

// Emit hands the rows of c that are still current to h as snapshot reads
// ("r" changes at position), and moves the state past c. It returns how
// many rows it handed over. The caller's next Commit must carry State(),
// after which it calls Release.
func (e *Engine[M]) Emit(ctx context.Context, h capture.Handler, c *Chunk[M], position string) (int, error) {
	e.mu.Lock()
	e.unwatchLocked(c.Name, c.Watch)
	e.mu.Unlock()
	var keep []int
	if c.Table != nil { // nil: a table skipped without reading
		var changes []Observed[M]
		if c.Watch != nil {
			changes = c.Watch.changes
		}
		keep = Survivors(c.Rows, c.Table.Key, changes, c.Window)
	}
	now := time.Now()
	for _, i := range keep {
		ch := &capture.Change{
			Op: capture.OpRead, Table: c.Table, After: c.Rows[i], Snapshot: true,
			Position: position, EventPosition: RowEventPosition(c.Name, c.Table, c.Rows[i], c.ID), CommitTime: now,
		}
		if err := h.Change(ctx, ch); err != nil {
			return 0, fmt.Errorf("handle snapshot row of %s: %w", c.Name, err)
		}
	}
	e.mu.Lock()
	st := e.state.Load()
	if c.Done {
		// The next pending table becomes active at once, so the Commit
		// records it; the reader of c takes it (take). The table is no
		// longer owned from here: queued again, a reader reads it anew.
		st, _ = st.Finish(c.Name).Start(max(e.cfg.Parallel, 1))
		delete(e.owned, c.Name)
	} else {
		st = st.Advance(c.Name, capture.KeyOf(c.Rows[len(c.Rows)-1], c.Table.Key))
	}
	e.setState(st)
	e.mu.Unlock()
	if st == nil {
		e.log.Info("snapshot finished")
	}
	return len(keep), nil
}

// Release lets c's reader go on; the Commit carrying the state Emit moved
// past c was handed over.
func (e *Engine[M]) Release(c *Chunk[M]) { close(c.emitted) }

// Retry has c's reader read the chunk again: the stream cannot merge it
// (the source's window found a change it could not judge).
func (e *Engine[M]) Retry(c *Chunk[M]) {
	e.mu.Lock()
	e.unwatchLocked(c.Name, c.Watch)
	e.mu.Unlock()
	c.retry = true
	close(c.emitted)
}
