// Package checkpoints closes the loop from sink acks back to source
// positions: a Tracker computes the highest transaction boundary whose events,
// and all events before it, were acked by the sink (Kafka), and a Store
// persists it. Resuming from a persisted checkpoint may replay delivered
// events but never skips one.
package checkpoints

import (
	"context"
	"errors"
	"time"
)

// Checkpoint is a durable, resumable source position.
type Checkpoint struct {
	Position string `json:"position"`
	// Snapshot is the snapshot work pending at Position, as the source
	// encoded it (capture.Commit.Snapshot); empty when none is.
	Snapshot   string    `json:"snapshot,omitempty"`
	CommitTime time.Time `json:"commit_time"` // source commit time of the last transaction included
	SavedAt    time.Time `json:"saved_at"`
}

// ErrNotFound is returned when a source has no checkpoint yet.
var ErrNotFound = errors.New("no checkpoint")

// Store persists checkpoints per source. Implementations must make Commit
// durable before returning.
type Store interface {
	Load(ctx context.Context, source string) (Checkpoint, error)
	Commit(ctx context.Context, source string, cp Checkpoint) error
	// History returns committed checkpoints, newest first (bounded).
	History(ctx context.Context, source string) ([]Checkpoint, error)
	Close() error
}
