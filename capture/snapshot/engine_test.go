package snapshot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

func testTable(name string) *capture.Table {
	return &capture.Table{Database: "shop", Name: name, Columns: []capture.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
}

func testEngine(t *testing.T, state *State, parallel int, newReader func() (ChunkReader[int], error)) *Engine[int] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := NewEngine(ctx, state, Options[int]{
		Source: "src", Config: Config{Parallel: parallel, ChunkSize: 10}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: &Progress{}, NewReader: newReader, Fail: func(err error) { t.Errorf("reader failed: %v", err) },
	})
	t.Cleanup(func() { cancel(); e.Wait() })
	return e
}

func TestEngineObserve(t *testing.T) {
	t.Parallel()
	a, b, c := testTable("a"), testTable("b"), testTable("c")
	e := testEngine(t, nil, 2, nil)
	wa, wb := e.Watch("shop.a", nil), e.Watch("shop.b", nil)
	e.Observe(a, 10, []any{int64(1), "x"}, []any{int64(2), "y"}) // key change: both keys
	e.Observe(b, 10, nil, []any{int64(3), "z"})
	e.Observe(c, 10, nil, []any{int64(4), "z"}) // not watched
	e.ObserveTruncate(b, 11)
	k := func(id int64) string { return capture.KeyString([]any{id}, []int{0}) }
	if evs := wa.Changes(); len(evs) != 2 || evs[0].Key != k(1) || evs[1].Key != k(2) || evs[0].At != 10 {
		t.Errorf("shop.a changes %+v", evs)
	}
	if evs := wb.Changes(); len(evs) != 2 || evs[0].Key != k(3) || !evs[1].All || evs[1].At != 11 {
		t.Errorf("shop.b changes %+v", evs)
	}
	if _, ok := e.watches["shop.c"]; ok || len(e.watches) != 2 || e.watching.Load() != 2 {
		t.Errorf("watches %+v", e.watches)
	}
	// A new watch of a table replaces its old one; ending the old one
	// leaves the new one alone.
	wa2 := e.Watch("shop.a", nil)
	e.unwatchLocked("shop.a", wa)
	if e.watches["shop.a"] != wa2 {
		t.Error("ending a replaced watch ended its successor")
	}
	var nilEngine *Engine[int]
	nilEngine.Observe(a, 1, nil, []any{int64(1)}) // a stream without a snapshot
}

// blockingReader opens a table (Table) and then waits for the test's end:
// each reader holds the table it took.
type blockingReader struct {
	opened chan<- string
}

func (r *blockingReader) Table(ctx context.Context, schema, table string) (*capture.Table, error) {
	r.opened <- schema + "." + table
	<-ctx.Done()
	return nil, ctx.Err()
}
func (r *blockingReader) TableExists(context.Context, string, string) (bool, error) { return true, nil }
func (r *blockingReader) ApproxRows(context.Context, string, string) (int64, error) { return 0, nil }
func (r *blockingReader) ReadChunk(context.Context, ChunkRequest) (Read[int], error) {
	return Read[int]{}, nil
}
func (r *blockingReader) Place(context.Context, *Chunk[int]) error { return nil }
func (r *blockingReader) Close() error                             { return nil }

// opened returns the tables readers opened, once n did.
func opened(t *testing.T, ch <-chan string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case tbl := <-ch:
			got = append(got, tbl)
		case <-time.After(10 * time.Second):
			t.Fatalf("readers opened %v, want %d tables", got, n)
		}
	}
	slices.Sort(got)
	return got
}

// Readers: one per active table, up to parallel; requests add tables and
// readers; a resumed state with more active tables than parallel resumes
// them all.
func TestEngineStartsReaders(t *testing.T) {
	t.Parallel()
	ch := make(chan string, 16)
	newReader := func() (ChunkReader[int], error) { return &blockingReader{opened: ch}, nil }

	e := testEngine(t, New("s1", []string{"d.a", "d.b", "d.c"}), 2, newReader)
	e.Start()
	if got := opened(t, ch, 2); !reflect.DeepEqual(got, []string{"d.a", "d.b"}) {
		t.Fatalf("Start opened %v", got)
	}
	if added, ok := e.Add("s2", []string{"d.c", "d.d"}); !ok || !reflect.DeepEqual(added, []string{"d.d"}) {
		t.Fatalf("Add added %v", added)
	}
	e.mu.Lock()
	workers := e.workers
	e.mu.Unlock()
	if workers != 2 {
		t.Errorf("%d readers after Add, want 2 (parallel)", workers)
	}
	if got := e.State().Tables(); !reflect.DeepEqual(got, []string{"d.a", "d.b", "d.c", "d.d"}) {
		t.Errorf("state tables %v", got)
	}

	resumed := &State{ID: "s3", Active: []Cursor{{Table: "d.a", After: []any{int64(5)}}, {Table: "d.b"}, {Table: "d.c"}}}
	e = testEngine(t, resumed, 2, newReader)
	e.Start()
	if got := opened(t, ch, 3); !reflect.DeepEqual(got, []string{"d.a", "d.b", "d.c"}) {
		t.Errorf("resumed: opened %v", got)
	}

	// A request with no snapshot running starts a new one.
	e = testEngine(t, nil, 2, newReader)
	e.Start()
	e.Add("s4", []string{"d.x"})
	if got := opened(t, ch, 1); e.State().ID != "s4" || !reflect.DeepEqual(got, []string{"d.x"}) {
		t.Errorf("new snapshot %+v, opened %v", e.State(), got)
	}
}

// take hands out a resumed table before pending ones, and a finished
// table's successor is recorded in the state at once.
func TestEngineTakeAndFinish(t *testing.T) {
	t.Parallel()
	state := &State{ID: "s1", Active: []Cursor{{Table: "d.a", After: []any{int64(5)}}}, Pending: []string{"d.b", "d.c"}}
	e := testEngine(t, state, 2, nil)
	var took []string
	for range 2 {
		id, cur, ok := e.take()
		if !ok || id != "s1" {
			t.Fatalf("take = %q, %+v, %v", id, cur, ok)
		}
		took = append(took, cur.Table)
	}
	if !reflect.DeepEqual(took, []string{"d.a", "d.b"}) {
		t.Errorf("took %v, want the resumed d.a first", took)
	}
	rec := &recorder{}
	c := &Chunk[int]{ID: "s1", Name: "d.a", Table: testTable("a"), Rows: [][]any{{int64(6), "v"}}, Done: true, Window: staleFrom(0)}
	e.Queue(c)
	if n, err := e.Emit(context.Background(), rec, c, "pos-1"); err != nil || n != 1 {
		t.Fatalf("Emit = %d, %v", n, err)
	}
	if got := e.State().String(); got != "d.b, d.c" {
		t.Errorf("state after d.a finished %q, want d.c started at once", got)
	}
}

// staleFrom is a window whose rows are older than every change at or
// after it.
type staleFrom int

func (w staleFrom) Stale(m int) bool { return m >= int(w) }

// Emit leaves out the rows a stale change touched (and every row after a
// stale TRUNCATE), numbers none of them twice, and moves the cursor past
// the chunk; Retry releases the reader to read again.
func TestEngineEmit(t *testing.T) {
	t.Parallel()
	a := testTable("a")
	rows := [][]any{{int64(1), "v"}, {int64(2), "v"}, {int64(3), "v"}}
	tests := []struct {
		name    string
		observe func(e *Engine[int])
		want    []string
	}{
		{"no changes", func(*Engine[int]) {}, []string{"1", "2", "3"}},
		{"change before the window", func(e *Engine[int]) { e.Observe(a, 4, nil, []any{int64(2), "x"}) }, []string{"1", "2", "3"}},
		{"change in the window", func(e *Engine[int]) { e.Observe(a, 5, []any{int64(2), "x"}, nil) }, []string{"1", "3"}},
		{"truncate in the window", func(e *Engine[int]) { e.ObserveTruncate(a, 6) }, nil},
		{"truncate before the window", func(e *Engine[int]) { e.ObserveTruncate(a, 1) }, []string{"1", "2", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := testEngine(t, &State{ID: "s1", Active: []Cursor{{Table: "shop.a"}}}, 1, nil)
			w := e.Watch("shop.a", nil)
			tt.observe(e)
			c := &Chunk[int]{ID: "s1", Name: "shop.a", Table: a, Rows: rows, Window: staleFrom(5), Watch: w}
			e.Queue(c)
			if got := e.Take(func(x *Chunk[int]) bool { return x == c }); len(got) != 1 {
				t.Fatalf("Take = %d chunks", len(got))
			}
			rec := &recorder{}
			if _, err := e.Emit(context.Background(), rec, c, "pos-9"); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range rec.changes {
				got = append(got, fmt.Sprint(ch.After[0]))
				if ch.Op != capture.OpRead || !ch.Snapshot || ch.Position != "pos-9" {
					t.Errorf("change %+v, want a snapshot read at pos-9", ch)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("emitted keys %v, want %v", got, tt.want)
			}
			if cur, _ := e.State().Cursor("shop.a"); !reflect.DeepEqual(cur.After, []any{int64(3)}) {
				t.Errorf("cursor %+v, want after 3", cur)
			}
			if len(e.watches) != 0 {
				t.Errorf("watch left after Emit: %+v", e.watches)
			}
		})
	}
	e := testEngine(t, nil, 1, nil)
	c := &Chunk[int]{Name: "shop.a", Watch: e.Watch("shop.a", nil)}
	e.Queue(c)
	e.Retry(c)
	select {
	case <-c.Emitted():
	default:
		t.Fatal("Retry did not release the reader")
	}
	if !c.retry || len(e.watches) != 0 {
		t.Errorf("after Retry: retry %v, watches %+v", c.retry, e.watches)
	}
}

type recorder struct {
	mu      sync.Mutex
	changes []*capture.Change
}

func (r *recorder) Change(_ context.Context, c *capture.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	return nil
}
func (r *recorder) Commit(context.Context, capture.Commit) error       { return nil }
func (r *recorder) Schema(context.Context, capture.SchemaChange) error { return nil }

// A table finished and requested again before its reader asks for more
// work is read by exactly one reader: Emit gives it up.
func TestEngineTableRequestedAgainHasOneReader(t *testing.T) {
	t.Parallel()
	e := testEngine(t, New("s1", []string{"d.a"}), 2, nil)
	e.workers = 2 // this test's two take calls stand in for the readers
	if _, cur, ok := e.take(); !ok || cur.Table != "d.a" {
		t.Fatalf("take = %+v, %v", cur, ok)
	}
	c := &Chunk[int]{ID: "s1", Name: "d.a", Done: true}
	e.Queue(c)
	if _, err := e.Emit(context.Background(), &recorder{}, c, "p"); err != nil {
		t.Fatal(err)
	}
	if e.owned["d.a"] {
		t.Fatal("d.a is still owned after its last chunk was emitted")
	}
	e.Add("s2", []string{"d.a"}) // before d.a's reader is released
	var took []string
	for range 2 {
		if _, cur, ok := e.take(); ok {
			took = append(took, cur.Table)
		}
	}
	if !reflect.DeepEqual(took, []string{"d.a"}) {
		t.Errorf("readers took %v, want d.a once", took)
	}
}

// After Wait (the stream ended) Add refuses, so the caller can keep the
// request for the next stream, and no reader starts: before, a request
// racing with the end of a PostgreSQL stream started a reader after the
// wait, and its tables were lost with the engine.
func TestEngineAddAfterWaitRefuses(t *testing.T) {
	t.Parallel()
	ch := make(chan string, 16)
	newReader := func() (ChunkReader[int], error) { return &blockingReader{opened: ch}, nil }
	ctx, cancel := context.WithCancel(context.Background())
	e := NewEngine(ctx, nil, Options[int]{
		Source: "src", Config: Config{Parallel: 2, ChunkSize: 10}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: &Progress{}, NewReader: newReader, Fail: func(err error) { t.Errorf("reader failed: %v", err) },
	})
	e.Start()
	cancel()
	e.Wait()
	if added, ok := e.Add("s1", []string{"d.a"}); ok || added != nil {
		t.Fatalf("Add after Wait = %v, %v; want nil, false", added, ok)
	}
	e.mu.Lock()
	workers := e.workers
	e.mu.Unlock()
	if workers != 0 || e.State() != nil {
		t.Errorf("after a refused Add: %d readers, state %+v; want none", workers, e.State())
	}
}
