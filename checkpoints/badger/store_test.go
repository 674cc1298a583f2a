package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/tributary-cdc/tributary/checkpoints"
)

func TestRewind(t *testing.T) {
	t.Parallel()
	s := openTest(t, "")
	commitAll(t, s, "src", "p1", "p2", "p3")
	if err := s.Rewind(t.Context(), "src", cp("p1")); err != nil {
		t.Fatalf("Rewind: %v", err)
	}
	if got, err := s.Load(t.Context(), "src"); err != nil || got.Position != "p1" {
		t.Fatalf("Load after rewind = %q, %v; want p1", got.Position, err)
	}
	commitAll(t, s, "src", "p2")
	entries, err := s.Entries(t.Context(), "src")
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s:%s", e.Kind, e.Position))
	}
	want := []string{"commit:p2", "rewind:p1", "commit:p3", "commit:p2", "commit:p1"}
	if !slices.Equal(got, want) {
		t.Errorf("Entries() = %v, want %v", got, want)
	}
	// Rewinding a source without checkpoints creates it.
	if err := s.Rewind(t.Context(), "new", cp("p0")); err != nil {
		t.Fatalf("Rewind(new): %v", err)
	}
	if got, err := s.Load(t.Context(), "new"); err != nil || got.Position != "p0" {
		t.Errorf("Load(new) = %q, %v; want p0", got.Position, err)
	}
}

func TestDefaultHistoryLimit(t *testing.T) {
	t.Parallel()
	s := openTest(t, "")
	var want []string
	for i := range DefaultHistoryLimit + 30 {
		p := fmt.Sprintf("pos-%03d", i)
		commitAll(t, s, "src", p)
		want = append([]string{p}, want...)
	}
	h, err := s.History(t.Context(), "src")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if got := positions(h); !slices.Equal(got, want[:DefaultHistoryLimit]) {
		t.Fatalf("History() = %v, want %v", got, want[:DefaultHistoryLimit])
	}
}

// TestSecondOpenInUse checks the error a second Open returns; the
// conformance suite checks that it fails and that Close releases the lock.
func TestSecondOpenInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openTest(t, dir)
	_, err := Open(dir)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	wantMsg := fmt.Sprintf("checkpoint directory %s is in use by another tributary process (badger: ", dir)
	if !strings.HasPrefix(err.Error(), wantMsg) {
		t.Errorf("second Open error = %q, want prefix %q", err, wantMsg)
	}
}

func TestSourcesSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir, WithLogger(quiet))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	commitAll(t, s, "b", "b1")
	commitAll(t, s, "a", "a1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTest(t, dir)
	if srcs, err := s.Sources(t.Context()); err != nil || !slices.Equal(srcs, []string{"a", "b"}) {
		t.Errorf("Sources() after reopen = %v, %v; want [a b]", srcs, err)
	}
}

// TestSourcesDuringCommits lists sources while others commit, for the race
// detector.
func TestSourcesDuringCommits(t *testing.T) {
	t.Parallel()
	const writers, commits = 4, 10
	s := openTest(t, "")
	var wg sync.WaitGroup
	for w := range writers {
		src := fmt.Sprintf("src-%d", w)
		wg.Go(func() {
			for i := range commits {
				if err := s.Commit(t.Context(), src, cp(fmt.Sprint(i))); err != nil {
					t.Errorf("Commit(%s): %v", src, err)
					return
				}
				if _, err := s.Sources(t.Context()); err != nil {
					t.Errorf("Sources: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if srcs, err := s.Sources(t.Context()); err != nil || len(srcs) != writers {
		t.Errorf("Sources() = %v, %v; want %d sources", srcs, err, writers)
	}
}

func TestSourcesAndDelete(t *testing.T) {
	t.Parallel()
	s := openTest(t, "")
	ctx := t.Context()
	if srcs, err := s.Sources(ctx); err != nil || len(srcs) != 0 {
		t.Fatalf("Sources() on empty store = %v, %v", srcs, err)
	}
	commitAll(t, s, "pg-b", "b1")
	commitAll(t, s, "mysql-a", "a1", "a2")
	commitAll(t, s, "mysql-a2", "x1")
	if srcs, err := s.Sources(ctx); err != nil || !slices.Equal(srcs, []string{"mysql-a", "mysql-a2", "pg-b"}) {
		t.Fatalf("Sources() = %v, %v", srcs, err)
	}
	if err := s.Delete(ctx, "mysql-a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, "never-existed"); err != nil {
		t.Errorf("Delete(never-existed) = %v, want nil", err)
	}
	if _, err := s.Load(ctx, "mysql-a"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Errorf("Load(deleted) = %v, want ErrNotFound", err)
	}
	if srcs, err := s.Sources(ctx); err != nil || !slices.Equal(srcs, []string{"mysql-a2", "pg-b"}) {
		t.Errorf("Sources() after delete = %v, %v", srcs, err)
	}
	if h, err := s.History(ctx, "mysql-a2"); err != nil || !slices.Equal(positions(h), []string{"x1"}) {
		t.Errorf("History(mysql-a2) = %v, %v; a neighbour's delete must not touch it", positions(h), err)
	}
	// A source committed again after Delete starts a fresh history.
	commitAll(t, s, "mysql-a", "a3")
	if h, err := s.History(ctx, "mysql-a"); err != nil || !slices.Equal(positions(h), []string{"a3"}) {
		t.Errorf("History after delete and commit = %v, %v; want [a3]", positions(h), err)
	}
}

func TestDeleteLongHistory(t *testing.T) {
	t.Parallel()
	s := openTest(t, "", WithHistoryLimit(2*deleteBatch))
	for i := range deleteBatch + 20 {
		commitAll(t, s, "src", fmt.Sprint(i))
	}
	if err := s.Delete(t.Context(), "src"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(t.Context(), "src"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
	err := s.db.View(func(txn *badger.Txn) error {
		if keys := historyKeys(txn, "src", 1); len(keys) != 0 {
			t.Errorf("history key %q left after Delete", keys[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInvalidInput covers the methods beyond checkpoints.Store; the
// conformance suite covers the others.
func TestInvalidInput(t *testing.T) {
	t.Parallel()
	s := openTest(t, "")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		source  string
		wantErr error
	}{
		{name: "empty source", ctx: t.Context(), source: ""},
		{name: "source with NUL", ctx: t.Context(), source: "a\x00b"},
		{name: "cancelled context", ctx: cancelled, source: "src", wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := map[string]error{
				"Rewind": s.Rewind(tt.ctx, tt.source, cp("p")),
				"Delete": s.Delete(tt.ctx, tt.source),
			}
			_, errs["Entries"] = s.Entries(tt.ctx, tt.source)
			for op, err := range errs {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Errorf("%s = %v, want error %v", op, err, tt.wantErr)
				}
			}
		})
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dir  string
		opts []Option
	}{
		{name: "empty dir"},
		{name: "zero history limit", dir: t.TempDir(), opts: []Option{WithHistoryLimit(0)}},
		{name: "zero gc interval", dir: t.TempDir(), opts: []Option{WithGCInterval(0)}},
		{name: "nil logger", dir: t.TempDir(), opts: []Option{WithLogger(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, err := Open(tt.dir, tt.opts...); err == nil {
				s.Close()
				t.Fatal("Open succeeded, want error")
			}
		})
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := s.Load(t.Context(), "src"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(t.Context(), "src", cp("p")); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Sources(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Sources after Close = %v, want ErrClosed", err)
	}
}
