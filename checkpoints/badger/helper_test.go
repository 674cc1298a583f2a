package badgerstore

import (
	"io/fs"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// quiet discards the store's logs in tests.
var quiet = slog.New(slog.DiscardHandler)

// epoch is the fixed start of testClock.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testClock returns a clock that advances one second per call, so SavedAt
// values are distinct and predictable.
func testClock() func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return epoch.Add(time.Duration(n) * time.Second)
	}
}

// openTest opens a store in dir (a fresh temporary one if empty) and closes
// it when the test ends.
func openTest(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(dir, append([]Option{WithClock(testClock()), WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func cp(pos string) checkpoints.Checkpoint {
	return checkpoints.Checkpoint{Position: pos, CommitTime: epoch.Add(-time.Hour)}
}

func commitAll(t *testing.T, s *Store, source string, positions ...string) {
	t.Helper()
	for _, p := range positions {
		if err := s.Commit(t.Context(), source, cp(p)); err != nil {
			t.Fatalf("Commit(%q, %q): %v", source, p, err)
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

// diskUsage returns the bytes allocated on disk under dir. Badger's files are
// sparse (mmapped at twice their maximum size), so apparent sizes overstate
// what is used.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("disk usage of %s: %v", dir, err)
	}
	return total
}
