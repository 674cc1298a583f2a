package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/toastcache"
)

// toastRig drives a toastFiller the way the stream loop does: one change
// per transaction, whose commit LSN it sets.
type toastRig struct {
	t        *testing.T
	f        *toastFiller
	st       *streamState
	rec      *recorder
	unfilled int
}

var toastTable = &capture.Table{Database: "public", Name: "docs", Key: []int{0},
	Columns: []capture.Column{{Name: "id", Type: "int4"}, {Name: "body", Type: "text"}, {Name: "n", Type: "int4"}}}

func newToastRig(t *testing.T, cache *toastcache.Cache) *toastRig {
	r := &toastRig{t: t, rec: &recorder{}, st: &streamState{}}
	r.f = &toastFiller{Handler: r.rec, cache: cache, st: r.st, unfilled: func(n int) { r.unfilled += n }}
	return r
}

func testToastCache(t *testing.T, dir string) (*toastcache.DB, *toastcache.Cache) {
	t.Helper()
	db, err := toastcache.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.Cache("src", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return db, c
}

// change hands one change over in a transaction committed at lsn and
// returns its after image as handed over.
func (r *toastRig) change(lsn uint64, op capture.Op, before, after []any) []any {
	r.t.Helper()
	r.st.begin.FinalLSN = pglogrepl.LSN(lsn)
	if err := r.f.Change(context.Background(), &capture.Change{Op: op, Table: toastTable, Before: before, After: after}); err != nil {
		r.t.Fatal(err)
	}
	if err := r.f.Commit(context.Background(), capture.Commit{Position: pglogrepl.LSN(lsn).String()}); err != nil {
		r.t.Fatal(err)
	}
	return r.rec.changes[len(r.rec.changes)-1].After
}

func TestToastFill(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 5000), strings.Repeat("b", 5000)
	absent := capture.Absent
	_, cache := testToastCache(t, t.TempDir())
	r := newToastRig(t, cache)

	r.change(100, capture.OpCreate, nil, []any{int64(1), a, int64(0)})
	if got := r.change(200, capture.OpUpdate, nil, []any{int64(1), absent, int64(1)}); got[1] != a {
		t.Fatalf("update after insert: body %.10v, want the inserted text", got[1])
	}
	r.change(300, capture.OpUpdate, nil, []any{int64(1), b, int64(2)})
	if got := r.change(400, capture.OpUpdate, nil, []any{int64(1), absent, int64(3)}); got[1] != b {
		t.Fatalf("update after a changed body: %.10v, want the new text", got[1])
	}
	if r.unfilled != 0 {
		t.Fatalf("unfilled = %d", r.unfilled)
	}

	// A replay from before LSN 300 (an older checkpoint): the value the
	// cache holds was written later, so the update at 200 is not filled
	// with it.
	if got := r.change(200, capture.OpUpdate, nil, []any{int64(1), absent, int64(1)}); got[1] != absent || r.unfilled != 1 {
		t.Fatalf("replayed update: body %.10v unfilled %d, want absent and 1", got[1], r.unfilled)
	}
	// …until the replay reaches the write again.
	r.change(300, capture.OpUpdate, nil, []any{int64(1), b, int64(2)})
	if got := r.change(400, capture.OpUpdate, nil, []any{int64(1), absent, int64(3)}); got[1] != b {
		t.Fatalf("replay past the write: %.10v", got[1])
	}

	// A small value replaces the large one: nothing stale stays.
	r.change(500, capture.OpUpdate, nil, []any{int64(1), "short", int64(4)})
	if _, ok, _ := cache.Get("public.docs", capture.KeyString([]any{int64(1)}, toastTable.Key), "body"); ok {
		t.Fatal("a small value left the large one cached")
	}

	// A row the cache never saw stays absent and is counted.
	r.unfilled = 0
	if got := r.change(600, capture.OpUpdate, nil, []any{int64(2), absent, int64(0)}); got[1] != absent || r.unfilled != 1 {
		t.Fatalf("unknown row: %.10v, unfilled %d", got[1], r.unfilled)
	}
}

func TestToastDeleteAndKeyChange(t *testing.T) {
	t.Parallel()
	a := strings.Repeat("a", 5000)
	absent := capture.Absent
	_, cache := testToastCache(t, t.TempDir())
	r := newToastRig(t, cache)

	r.change(100, capture.OpRead, nil, []any{int64(1), a, int64(0)}) // a snapshot row seeds it
	// The key changes from 1 to 7: the value moves with the row.
	if got := r.change(200, capture.OpUpdate, []any{int64(1), absent, absent}, []any{int64(7), absent, int64(1)}); got[1] != a {
		t.Fatalf("key change: body %.10v", got[1])
	}
	if cache.Len() != 1 {
		t.Fatalf("%d entries after the key change, want 1 (under the new key)", cache.Len())
	}
	// A replay of the key change (restart from before it): the old key's
	// value is gone, the one moved at exactly this event is used.
	if got := newToastRig(t, cache).change(200, capture.OpUpdate, []any{int64(1), absent, absent}, []any{int64(7), absent, int64(1)}); got[1] != a {
		t.Fatalf("replayed key change: body %.10v", got[1])
	}
	if got := r.change(300, capture.OpUpdate, nil, []any{int64(7), absent, int64(2)}); got[1] != a {
		t.Fatalf("after the key change: body %.10v", got[1])
	}
	r.change(400, capture.OpDelete, []any{int64(7), absent, absent}, nil)
	if cache.Len() != 0 {
		t.Fatalf("%d entries after the delete", cache.Len())
	}
	// Re-inserted with a small value, then updated: never the old text.
	r.change(500, capture.OpCreate, nil, []any{int64(7), "x", int64(0)})
	if got := r.change(600, capture.OpUpdate, nil, []any{int64(7), absent, int64(1)}); got[1] != absent {
		t.Fatalf("after delete and re-insert: body %.10v, want absent", got[1])
	}
}

// The cache outlives the daemon: a new filler on the reopened directory
// fills from what the old one wrote.
func TestToastDurable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := strings.Repeat("a", 100_000)
	db, cache := testToastCache(t, dir)
	newToastRig(t, cache).change(100, capture.OpCreate, nil, []any{int64(1), a, int64(0)})
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, cache2 := testToastCache(t, dir)
	if !cache2.Continuous(100) {
		t.Fatal("resuming at the last commit seen is not continuous")
	}
	if got := newToastRig(t, cache2).change(200, capture.OpUpdate, nil, []any{int64(1), capture.Absent, int64(1)}); got[1] != a {
		t.Fatalf("after reopening: body %.10v", got[1])
	}
}

func TestToastConfig(t *testing.T) {
	t.Parallel()
	c := Config{Addr: "h:1", User: "u", Database: "d"}
	c.Defaults("x")
	if c.Toast != ToastFill || c.ToastCacheMaxBytes != 1<<30 {
		t.Fatalf("defaults: %q, %d", c.Toast, c.ToastCacheMaxBytes)
	}
	if err := c.Validate("sources[x]"); err != nil {
		t.Fatal(err)
	}
	c.Toast, c.ToastCacheMaxBytes = "full", 10
	err := c.Validate("sources[x]")
	if err == nil || !strings.Contains(err.Error(), "sources[x].toast \"full\"") || !strings.Contains(err.Error(), "sources[x].toast_cache_max_bytes 10") {
		t.Fatalf("Validate = %v", err)
	}
}
