package snapshot

import "github.com/tributary-cdc/tributary/capture"

// Window ties one chunk to the stream. A source builds it while it reads
// the chunk (MySQL: the binlog positions bracketing the read; PostgreSQL:
// the read's MVCC snapshot).
type Window[M any] interface {
	// Stale reports whether a change the stream emitted at m, after the
	// chunk's watch began, may be newer than the chunk's rows: rows of the
	// keys it touched are dropped, since the stream carried them already.
	Stale(m M) bool
}

// Chunk is one read of a table on its way from a reader to the stream
// loop. A reader holds at most one: it waits until the loop emitted it.
type Chunk[M any] struct {
	ID    string         // State.ID, part of the event ids of its rows
	Name  string         // "db.table"
	Token string         // unique among the engine's chunks (PostgreSQL writes it as the watermark)
	Table *capture.Table // nil: the table is gone and was skipped unread
	Rows  [][]any
	Prev  []any // key the chunk starts after; nil: the table's start
	Done  bool  // the table's last chunk (or the table is gone)
	// Window is nil for a skipped table: there is nothing to merge.
	Window Window[M]
	// Watch records the table's changes the stream emitted since the
	// read's watch began (Engine.Watch).
	Watch *Watch[M]

	retry   bool
	emitted chan struct{}
}

// Watch is the record of one table's changes the stream emitted while a
// chunk of it was read or waited; Engine.Watch starts it.
type Watch[M any] struct {
	table   string
	changes []Observed[M]
}

// Changes returns what the watch recorded, in stream order; the stream
// loop's goroutine may still add to it.
func (w *Watch[M]) Changes() []Observed[M] { return w.changes }

// Observed is one change a watch recorded.
type Observed[M any] struct {
	At  M
	Key string // KeyString of the row's key
	All bool   // a TRUNCATE: every row of the table
}

// Emitted is closed once the stream loop emitted c (or asked for it to be
// read again).
func (c *Chunk[M]) Emitted() <-chan struct{} { return c.emitted }

// Watch starts recording table's changes for its next chunk, replacing
// the table's earlier watch. mark, if not nil, runs under the lock Observe
// takes, once the watch is registered: a source reads there what "the
// stream so far" is for its window (PostgreSQL: how many transactions it
// began), so every change observed after mark is recorded.
func (e *Engine[M]) Watch(table string, mark func()) *Watch[M] {
	w := &Watch[M]{table: table}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.watches[table] = w
	e.watching.Store(int32(len(e.watches)))
	if mark != nil {
		mark()
	}
	return w
}

// unwatchLocked ends w if it is still table's watch; the caller holds mu.
func (e *Engine[M]) unwatchLocked(table string, w *Watch[M]) {
	if w != nil && e.watches[table] == w {
		delete(e.watches, table)
		e.watching.Store(int32(len(e.watches)))
	}
}

// Observe records a row change of t emitted at m, if a chunk of t is being
// read or waits: the keys of both images. The stream loop calls it for
// every change it hands over, before the handler sees it; it costs one
// atomic load while no table is watched.
func (e *Engine[M]) Observe(t *capture.Table, m M, before, after []any) {
	if e == nil || e.watching.Load() == 0 {
		return
	}
	name := t.Database + "." + t.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.watches[name]
	if w == nil {
		return
	}
	for _, img := range [][]any{before, after} {
		if img != nil {
			w.changes = append(w.changes, Observed[M]{At: m, Key: capture.KeyString(img, t.Key)})
		}
	}
}

// ObserveTruncate records that a change at m emptied t.
func (e *Engine[M]) ObserveTruncate(t *capture.Table, m M) {
	if e == nil || e.watching.Load() == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if w := e.watches[t.Database+"."+t.Name]; w != nil {
		w.changes = append(w.changes, Observed[M]{At: m, All: true})
	}
}

// Survivors returns the indexes of rows (keyed by key) that no change in
// changes the window calls stale touched; none after a stale TRUNCATE.
func Survivors[M any](rows [][]any, key []int, changes []Observed[M], w Window[M]) []int {
	stale := map[string]bool{}
	for _, ch := range changes {
		if !w.Stale(ch.At) {
			continue
		}
		if ch.All {
			return nil
		}
		stale[ch.Key] = true
	}
	keep := make([]int, 0, len(rows))
	for i, row := range rows {
		if !stale[capture.KeyString(row, key)] {
			keep = append(keep, i)
		}
	}
	return keep
}
