package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gather compares the named metrics of r with want, in the text exposition
// format (HELP and TYPE lines included).
func gather(t *testing.T, r *Registry, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(r.Prometheus(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}
