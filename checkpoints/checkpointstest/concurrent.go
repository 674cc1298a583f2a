package checkpointstest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testConcurrentCommits commits from many goroutines at once, reading in
// between, for the race detector and for lost or torn writes.
func testConcurrentCommits(t *testing.T, h Harness) {
	const writers, commits = 8, 20
	pos := func(w, i int) string { return fmt.Sprintf("w%d-%02d", w, i) }
	// newestFirst lists writer w's positions, last commit first.
	newestFirst := func(w int) []string {
		var out []string
		for i := commits - 1; i >= 0; i-- {
			out = append(out, pos(w, i))
		}
		return out
	}

	t.Run("different sources", func(t *testing.T) {
		t.Parallel()
		s := newEnv(t, h).open(commits)
		var wg sync.WaitGroup
		for w := range writers {
			src := fmt.Sprintf("src-%d", w)
			wg.Go(func() {
				for i := range commits {
					if err := s.Commit(t.Context(), src, cp(pos(w, i))); err != nil {
						t.Errorf("Commit(%s): %v", src, err)
						return
					}
					if got, err := s.Load(t.Context(), src); err != nil || got.Position != pos(w, i) {
						t.Errorf("Load(%s) after committing %s = %q, %v", src, pos(w, i), got.Position, err)
					}
					if _, err := s.History(t.Context(), src); err != nil {
						t.Errorf("History(%s): %v", src, err)
					}
				}
			})
		}
		wg.Wait()
		// The last write wins per source, and each history is its own.
		for w := range writers {
			src := fmt.Sprintf("src-%d", w)
			if got := load(t, s, src); got.Position != pos(w, commits-1) {
				t.Errorf("Load(%s) = %q, want %s", src, got.Position, pos(w, commits-1))
			}
			wantHistory(t, s, src, newestFirst(w)...)
		}
	})

	t.Run("same source", func(t *testing.T) {
		t.Parallel()
		s := newEnv(t, h).open(writers * commits)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range commits {
					if err := s.Commit(t.Context(), "src", cp(pos(w, i))); err != nil {
						t.Errorf("Commit(src, %s): %v", pos(w, i), err)
						return
					}
					if _, err := s.Load(t.Context(), "src"); err != nil {
						t.Errorf("Load(src): %v", err)
					}
				}
			})
		}
		wg.Wait()
		// Every commit is in the history once, each writer's in its own
		// order, and the current checkpoint is the newest entry: the last
		// commit of whichever writer finished last.
		hist := history(t, s, "src")
		savedNewestFirst(t, hist)
		got := positions(hist)
		if len(got) != writers*commits {
			t.Errorf("History(src) has %d entries, want %d", len(got), writers*commits)
		}
		var finals []string
		for w := range writers {
			mine := slices.DeleteFunc(slices.Clone(got), func(p string) bool {
				return !strings.HasPrefix(p, fmt.Sprintf("w%d-", w))
			})
			if want := newestFirst(w); !slices.Equal(mine, want) {
				t.Errorf("History(src) entries of writer %d = %v, want %v", w, mine, want)
			}
			finals = append(finals, pos(w, commits-1))
		}
		cur := load(t, s, "src")
		if len(hist) > 0 && !same(cur, hist[0]) {
			t.Errorf("Load(src) = %+v, want the newest history entry %+v", cur, hist[0])
		}
		if !slices.Contains(finals, cur.Position) {
			t.Errorf("Load(src) = %q, want the last commit of one of the writers %v", cur.Position, finals)
		}
	})
}
