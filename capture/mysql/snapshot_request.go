package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

var (
	_ capture.Snapshotter      = (*Source)(nil)
	_ capture.SnapshotReporter = (*Source)(nil)
)

// ErrSnapshotRequest marks an on-demand snapshot request that names a table
// the source cannot snapshot (not db.table, not captured, missing, keyless).
var ErrSnapshotRequest = snapshot.ErrRequest

// RequestSnapshot implements capture.Snapshotter: it checks that every table
// is "db.table", captured, present on the server and keyed (primary key or
// key_columns), then queues them. The stream loop takes them at once (also
// while plain streaming: it switches to snapshot mode without losing an
// event): it starts a new snapshot with a fresh id, or appends the tables to
// the one running (a table already queued or being read is not added
// again), and hands over a Commit whose snapshot work lists them, so they are
// durable at the next checkpoint. Requests made while Stream is not running
// are taken when it starts.
func (s *Source) RequestSnapshot(tables []string) error {
	tables, err := s.checkSnapshotTables(context.Background(), tables)
	if err != nil {
		return err
	}
	if s.isClosed() {
		return errors.New("source is closed")
	}
	s.reqMu.Lock()
	s.requested = append(s.requested, tables...)
	wake := s.wakePlain
	s.reqMu.Unlock()
	select {
	case s.snapWake <- struct{}{}:
	default: // already signalled
	}
	if wake != nil {
		wake()
	}
	s.log.Info("on-demand snapshot requested", "tables", strings.Join(tables, ","))
	return nil
}

// CheckSnapshotTables reports (wrapping ErrSnapshotRequest) the tables a
// snapshot could not read: not db.table, not captured, missing on the
// server or without a key. Other errors mean the check could not be made.
func (s *Source) CheckSnapshotTables(ctx context.Context, tables []string) error {
	_, err := s.checkSnapshotTables(ctx, tables)
	return err
}

// checkSnapshotTables refuses tables the snapshot could not read and
// returns the others, trimmed and de-duplicated.
func (s *Source) checkSnapshotTables(ctx context.Context, tables []string) ([]string, error) {
	return snapshot.CheckRequest(ctx, snapshot.Request{
		Source: s.name, Form: "db.table", Tables: tables, Captured: s.filter.match,
		Check: func(ctx context.Context, t, schema, tbl string) (refused, err error) {
			db, err := s.sqlDB()
			if err != nil {
				return nil, err
			}
			exists, err := tableExists(ctx, db, schema, tbl)
			if err != nil {
				return nil, fmt.Errorf("check table %s on %s: %w", t, s.addr(), err)
			}
			if !exists {
				return fmt.Errorf("%w: table %s does not exist on %s", ErrSnapshotRequest, t, s.addr()), nil
			}
			if _, ok := s.cfg.KeyColumns[t]; ok {
				return nil, nil
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'", schema, tbl).Scan(&n); err != nil {
				return nil, fmt.Errorf("check the key of %s on %s: %w", t, s.addr(), err)
			}
			if n == 0 {
				return snapshot.NoKeyError(s.name, t), nil
			}
			return nil, nil
		},
	})
}

// setWake registers (nil: clears) the plain stream loop's wake-up.
func (s *Source) setWake(wake context.CancelFunc) {
	s.reqMu.Lock()
	s.wakePlain = wake
	pending := len(s.requested) > 0
	s.reqMu.Unlock()
	if wake != nil && pending {
		wake() // requested before the loop started
	}
}

// takeRequested returns and forgets the queued tables.
func (s *Source) takeRequested() []string {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	t := s.requested
	s.requested = nil
	return t
}

// NewSnapshotID names an on-demand snapshot started at position at: the
// position plus the time, so that two snapshots of a table never share
// event ids, even when no transaction separates them.
func NewSnapshotID(at Position, now time.Time) string {
	at.Snapshot = nil
	return snapshot.NewID(at.String(), now)
}

// AddTables adds tables to a snapshot state: a nil state becomes a new
// snapshot named id; otherwise the tables not already being read or
// pending are appended. It returns the new state (state is not changed)
// and the tables it added.
func AddTables(state *snapshot.State, id string, tables []string) (*snapshot.State, []string) {
	return snapshot.AddTables(state, id, tables)
}
