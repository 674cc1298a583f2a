package mysql

import (
	"context"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// SnapshotMode says when a source reads the rows that already exist (see
// snapshot.Mode). With SnapshotWhenNeeded, a checkpoint whose binlog file
// is gone from the server restarts streaming at the server's current
// position, and the snapshot replaces the changes lost in between.
type SnapshotMode = snapshot.Mode

// The snapshot modes, as the configuration names them.
const (
	SnapshotNever      = snapshot.Never
	SnapshotInitial    = snapshot.Initial
	SnapshotWhenNeeded = snapshot.WhenNeeded
)

// SnapshotConfig sets how a source snapshots its tables: up to Parallel
// tables are read at once, each on its own connection.
type SnapshotConfig = snapshot.Config

// TableProgress is how far the snapshot of one table has come.
type TableProgress = capture.TableProgress

// newSnapshot lists the tables a fresh snapshot reads: the configured ones,
// or every captured table. id names the snapshot (its start position).
func (s *Source) newSnapshot(ctx context.Context, id string) (*snapshot.State, error) {
	tables := append([]string(nil), s.cfg.Snapshot.Tables...)
	if len(tables) == 0 {
		r, err := s.NewReader()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		all, err := r.Tables(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			tables = append(tables, n[0]+"."+n[1])
		}
	}
	return snapshot.New(id, tables), nil
}

// SnapshotProgress returns the progress of every table the current (or
// last) snapshot of this source has started, for metrics and status. Safe
// to call concurrently with Stream.
func (s *Source) SnapshotProgress() []TableProgress { return s.progress.Tables() }
