package e2e

// Running the workload in the background and waiting for it and for its
// delivery.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// writeLoad commits the workload's transactions in the background until
// the returned stop is called, which returns the writer's error. The writer
// is also stopped when the test ends.
func writeLoad(t *testing.T, w *workload) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := w.txn(context.Background()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// mustStop stops the writer, failing the test on its error.
func mustStop(t *testing.T, stop func() error) {
	t.Helper()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// waitCaughtUp waits until the collector holds at least n distinct events
// and returns how long that took. The daemon logs "streaming" at the start
// of every attempt, also of those that fail at once, so only delivery shows
// that it really recovered.
func waitCaughtUp(t *testing.T, c *collector, n int64, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, timeout, fmt.Sprintf("%d changes to reach Kafka", n), func() bool {
		evs, errs := c.snapshot()
		if len(errs) > 0 {
			t.Fatalf("consuming: %v", errs)
		}
		unique, _ := dedupe(evs)
		return int64(len(unique)) >= n
	})
	return time.Since(start)
}

// waitProgress waits until the writer has committed at least n more changes.
func waitProgress(t *testing.T, w *workload, n int64) {
	t.Helper()
	from := w.progress.Load()
	testenv.Eventually(t, time.Minute, fmt.Sprintf("the writer to commit %d changes", n), func() bool {
		return w.progress.Load()-from >= n
	})
}
