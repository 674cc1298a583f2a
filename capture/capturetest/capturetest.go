// Package capturetest is the conformance suite of capture.Source: every
// source kind runs Run from its own integration tests, against its real
// server, through a small Harness. It proves the promises of the capture
// seam that the pipeline, the checkpoints and the failover and cluster
// work build on:
//
//   - inserts, updates (a primary-key change included) and deletes arrive
//     in commit order, with full before images (the harness sets up tables
//     so that the kind's documented rules give full images, e.g. REPLICA
//     IDENTITY FULL on PostgreSQL);
//   - a Commit only at a transaction's end, one per transaction, also for
//     multi-table transactions with savepoints rolled back to; every change
//     of a transaction resumes from the Commit before it;
//   - resuming from any Commit re-delivers nothing before it and skips
//     nothing after it, and what it re-delivers keeps its event ids
//     (EventPosition, RowIndex and TxID), which are distinct;
//   - a position the server no longer has, and one from the future, are a
//     *capture.PermanentError naming the position;
//   - the zero Resume starts at the server's current position;
//     cancelling the context returns ctx.Err() promptly; Close after
//     Stream, and twice, is safe;
//   - Positioner, LagReporter, Confirmer, Snapshotter and SnapshotReporter
//     behave as documented, and a snapshot meets the stream with no gap and
//     no stale row under a concurrent writer.
package capturetest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

// Harness adapts one source kind to the suite.
type Harness struct {
	// Setup creates a private database holding the named tables, each
	// (id INT PRIMARY KEY, v VARCHAR(40)), captured by the sources of the
	// returned Target. It cleans up after t.
	Setup func(t *testing.T, tables ...string) *Target
}

// Target is one test's database and how to capture it.
type Target struct {
	// DB is an admin connection to the database with at most one open
	// connection, so that the statements of a transaction share it.
	DB *sql.DB
	// Schema is Change.Table.Database of the tables.
	Schema string
	// NewSource builds a source of the tables. With snapshot it reads the
	// existing rows first (snapshot mode initial, small chunks, no rate
	// limit). Each call is a new source (its own replica id or slot use).
	NewSource func(t *testing.T, snapshot bool) capture.Source
	// Compare orders two positions of this kind: <0, 0, >0.
	Compare func(a, b string) (int, error)
	// Future returns a position past the server's current position cur.
	Future func(t *testing.T, cur string) string
	// Gone returns a position the server no longer holds (before its
	// oldest binlog, behind the slot).
	Gone func(t *testing.T, cur string) string
	// GoneErr and AheadErr are the kind's errors for a position Gone
	// and Future return: Stream's error wraps them.
	GoneErr, AheadErr error
}

// Run runs every conformance test against h.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"OrderAndImages", testOrderAndImages},
		{"CommitOnlyAtTransactionEnd", testCommitOnlyAtTransactionEnd},
		{"ResumeFromEveryCommit", testResumeFromEveryCommit},
		{"PositionGoneIsPermanent", testPositionGone},
		{"PositionFromTheFutureIsPermanent", testPositionFromTheFuture},
		{"CancelAndClose", testCancelAndClose},
		{"PositionerAndLag", testPositionerAndLag},
		{"SnapshotMeetsTheStream", testSnapshotMeetsTheStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, h)
		})
	}
}

// currentPosition is the source's current position; every source kind
// the suite runs against implements capture.Positioner.
func currentPosition(t *testing.T, src capture.Source) capture.Resume {
	t.Helper()
	p, ok := src.(capture.Positioner)
	if !ok {
		t.Fatalf("%T does not implement capture.Positioner", src)
	}
	pos, err := p.CurrentPosition(context.Background())
	if err != nil {
		t.Fatalf("CurrentPosition: %v", err)
	}
	return pos
}
