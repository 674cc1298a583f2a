// Package checkpointstest is the conformance suite every checkpoints.Store
// must pass. An implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		checkpointstest.Run(t, checkpointstest.Harness{
//			Open: func(t *testing.T, dir string, cfg checkpointstest.Config) (checkpoints.Store, error) {
//				return mystore.Open(dir, mystore.WithHistoryLimit(cfg.HistoryLimit), mystore.WithClock(cfg.Now))
//			},
//		})
//	}
//
// The suite checks what the pipeline and the operator commands rely on:
// a committed checkpoint loads back exactly, with SavedAt stamped by the
// store; unknown sources are ErrNotFound; sources never see each other's
// checkpoints; History is newest first and bounded; everything survives
// Close and reopen; a location is used by one store at a time; concurrent
// commits are safe; and closed stores and invalid input fail with errors,
// not panics. What is specific to one implementation (its error sentinels,
// extra methods, options) stays in that implementation's tests.
package checkpointstest

import (
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// Config is what the suite asks of a store it opens.
type Config struct {
	// HistoryLimit is the most checkpoints History returns per source;
	// always positive.
	HistoryLimit int
	// Now is the clock the store must stamp SavedAt with, ignoring the
	// SavedAt it is given. It is safe for concurrent use and returns a
	// later time on every call.
	Now func() time.Time
}

// Harness is what an implementation supplies to Run.
type Harness struct {
	// Open opens a store at location dir: an empty directory the suite
	// created, or one where it opened and closed a store before, whose
	// checkpoints the new store must hold. A store that does not live in a
	// directory maps dir to its own kind of location (a topic, a key
	// prefix); equal dirs must mean the same location. The suite closes
	// every store it opens.
	Open func(t *testing.T, dir string, cfg Config) (checkpoints.Store, error)
	// SharedOpen says a location may be opened again while a store has it
	// open. By default it may not: the second Open must fail with an error
	// saying the location is in use, until the first store is closed.
	SharedOpen bool
}

// Run runs the suite against h, each behaviour in a parallel subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("checkpointstest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"UnknownSource", testUnknownSource},
		{"PrefixSourceIsolated", testPrefixSourceIsolated},
		{"History", testHistory},
		{"Reopen", testReopen},
		{"InUse", testInUse},
		{"ConcurrentCommits", testConcurrentCommits},
		{"UseAfterClose", testUseAfterClose},
		{"InvalidInput", testInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, h)
		})
	}
}
