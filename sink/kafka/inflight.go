package kafkasink

import (
	"context"
	"sync"
)

// inflight counts messages handed to kafka-go and not yet completed. Waiters
// use a channel that is closed and replaced whenever the count drops, so
// they can also give up when their context ends (sync.Cond cannot).
type inflight struct {
	mu   sync.Mutex
	n    int
	max  int
	drop chan struct{}
}

func newInflight(max int) *inflight {
	return &inflight{max: max, drop: make(chan struct{})}
}

// acquire adds k, first waiting until there is room for them. A batch
// larger than max is let through once nothing else is in flight.
func (f *inflight) acquire(ctx context.Context, k int) error {
	return f.waitFor(ctx, func() bool {
		if f.n == 0 || f.n+k <= f.max {
			f.n += k
			return true
		}
		return false
	})
}

// add counts k more without waiting for room.
func (f *inflight) add(k int) {
	f.mu.Lock()
	f.n += k
	f.mu.Unlock()
}

// release subtracts k and wakes the waiters.
func (f *inflight) release(k int) {
	f.mu.Lock()
	f.n -= k
	if f.n < 0 {
		panic("kafkasink: more completions than written messages")
	}
	close(f.drop)
	f.drop = make(chan struct{})
	f.mu.Unlock()
}

// drain waits until nothing is in flight.
func (f *inflight) drain(ctx context.Context) error {
	return f.waitFor(ctx, func() bool { return f.n == 0 })
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// waitFor calls ok under the lock until it returns true or ctx ends.
func (f *inflight) waitFor(ctx context.Context, ok func() bool) error {
	for {
		f.mu.Lock()
		if ok() {
			f.mu.Unlock()
			return nil
		}
		drop := f.drop
		f.mu.Unlock()
		select {
		case <-drop:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
