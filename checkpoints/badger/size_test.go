package badgerstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDiskUsageBounded rewrites one source 20,000 times with 1 KiB random
// (incompressible) positions, about 44 MiB of values counting the history,
// and requires the directory to stay well below that: overwritten versions
// and trimmed history must be reclaimed, not accumulated. With the tuned
// options usage peaks near 5 MiB (with 4 MiB memtables it was 19 MiB).
func TestDiskUsageBounded(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("20,000 fsynced commits")
	}
	const (
		commits = 20000
		bound   = 12 << 20
	)
	dir := t.TempDir()
	s := openTest(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	var peak int64
	for i := range commits {
		var b strings.Builder
		fmt.Fprintf(&b, "%d:", i)
		for range 64 {
			fmt.Fprintf(&b, "%016x", rng.Uint64())
		}
		commitAll(t, s, "src", b.String())
		if i%1000 == 999 {
			u := diskUsage(t, dir)
			peak = max(peak, u)
			if testing.Verbose() {
				t.Logf("after %d commits: %d KiB", i+1, u/1024)
			}
		}
	}
	t.Logf("peak disk usage %.1f MiB after %d commits", float64(peak)/(1<<20), commits)
	if peak > bound {
		t.Errorf("disk usage reached %d bytes, want at most %d", peak, bound)
	}
	if h, err := s.History(t.Context(), "src"); err != nil || len(h) != DefaultHistoryLimit {
		t.Errorf("History() has %d entries, %v; want %d", len(h), err, DefaultHistoryLimit)
	}
}
