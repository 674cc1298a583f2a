package checkpointstest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// epoch is the time the suite's clocks start from.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// callerSavedAt is the SavedAt the suite passes to Commit; the store must
// replace it with its clock's time.
var callerSavedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// clock advances one second per call, so SavedAt values are distinct and
// each names the call that produced it.
type clock struct{ n atomic.Int64 }

func (c *clock) now() time.Time { return tick(c.n.Add(1)) }

func tick(n int64) time.Time { return epoch.Add(time.Duration(n) * time.Second) }

// calls returns how many times the clock has been read.
func (c *clock) calls() int64 { return c.n.Load() }

// returned reports whether ts is a time the clock returned after its first
// `after` calls and within its first `upTo`.
func (c *clock) returned(ts time.Time, after, upTo int64) bool {
	for n := after + 1; n <= upTo; n++ {
		if ts.Equal(tick(n)) {
			return true
		}
	}
	return false
}

// env is one subtest's store location and clock, shared by every store
// the subtest opens there so SavedAt keeps increasing across reopens.
type env struct {
	t     *testing.T
	h     Harness
	dir   string
	clock *clock
}

func newEnv(t *testing.T, h Harness) *env {
	return &env{t: t, h: h, dir: t.TempDir(), clock: &clock{}}
}

// tryOpen opens a store at the subtest's location; on success it is closed
// when the subtest ends, unless closed before.
func (e *env) tryOpen(limit int) (checkpoints.Store, error) {
	e.t.Helper()
	s, err := e.h.Open(e.t, e.dir, Config{HistoryLimit: limit, Now: e.clock.now})
	if err != nil {
		return nil, err
	}
	c := &closeOnce{Store: s}
	e.t.Cleanup(func() {
		if err := c.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	})
	return c, nil
}

// open is tryOpen that fails the test on error.
func (e *env) open(limit int) checkpoints.Store {
	e.t.Helper()
	s, err := e.tryOpen(limit)
	if err != nil {
		e.t.Fatalf("Open(%s): %v", e.dir, err)
	}
	return s
}

// closeOnce lets a subtest close a store early without the cleanup closing
// it again: the suite does not require Close to be idempotent.
type closeOnce struct {
	checkpoints.Store
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.Store.Close() })
	return c.err
}

func closeStore(t *testing.T, s checkpoints.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func cp(pos string) checkpoints.Checkpoint {
	return checkpoints.Checkpoint{Position: pos, CommitTime: epoch.Add(-time.Hour), SavedAt: callerSavedAt}
}

func commitAll(t *testing.T, s checkpoints.Store, source string, positions ...string) {
	t.Helper()
	for _, p := range positions {
		if err := s.Commit(t.Context(), source, cp(p)); err != nil {
			t.Fatalf("Commit(%q, %q): %v", source, p, err)
		}
	}
}

func load(t *testing.T, s checkpoints.Store, source string) checkpoints.Checkpoint {
	t.Helper()
	got, err := s.Load(t.Context(), source)
	if err != nil {
		t.Fatalf("Load(%q): %v", source, err)
	}
	return got
}

func history(t *testing.T, s checkpoints.Store, source string) []checkpoints.Checkpoint {
	t.Helper()
	h, err := s.History(t.Context(), source)
	if err != nil {
		t.Fatalf("History(%q): %v", source, err)
	}
	return h
}

// wantHistory checks the positions in the history of source and that its
// SavedAt times strictly decrease.
func wantHistory(t *testing.T, s checkpoints.Store, source string, want ...string) []checkpoints.Checkpoint {
	t.Helper()
	h := history(t, s, source)
	if got := positions(h); !slices.Equal(got, want) {
		t.Errorf("History(%q) = %v, want %v", source, got, want)
	}
	savedNewestFirst(t, h)
	return h
}

func savedNewestFirst(t *testing.T, h []checkpoints.Checkpoint) {
	t.Helper()
	for i := 1; i < len(h); i++ {
		if !h[i-1].SavedAt.After(h[i].SavedAt) {
			t.Errorf("History not newest first: entry %d (%q) saved at %s, entry %d (%q) at %s",
				i-1, h[i-1].Position, h[i-1].SavedAt, i, h[i].Position, h[i].SavedAt)
		}
	}
}

func positions(cps []checkpoints.Checkpoint) []string {
	out := make([]string, len(cps))
	for i, c := range cps {
		out[i] = c.Position
	}
	return out
}

func same(a, b checkpoints.Checkpoint) bool {
	return a.Position == b.Position && a.Snapshot == b.Snapshot && a.CommitTime.Equal(b.CommitTime) && a.SavedAt.Equal(b.SavedAt)
}

// short abbreviates a position for messages: some are a mebibyte long.
func short(pos string) string {
	if len(pos) <= 40 {
		return pos
	}
	return pos[:40] + "…"
}
