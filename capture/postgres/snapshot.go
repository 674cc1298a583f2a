package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

var (
	_ capture.Snapshotter      = (*Source)(nil)
	_ capture.SnapshotReporter = (*Source)(nil)
)

// ErrSnapshotRequest marks an on-demand snapshot request that names a table
// the source cannot snapshot (not schema.table, not captured, missing,
// keyless).
var ErrSnapshotRequest = snapshot.ErrRequest

// startPosition decides where Stream starts and which snapshot work runs
// alongside: the position's own (a resumed snapshot), a new one for a
// first start (from.Position == "") in snapshot mode initial or when_needed, or —
// in mode when_needed — a new one at the slot's position when from is
// behind the slot (PostgreSQL cannot go back there).
func (s *Source) startPosition(ctx context.Context, from capture.Resume, slot slotInfo) (pglogrepl.LSN, *snapshot.State, error) {
	if from.Position == "" {
		if !s.cfg.Snapshot.Active() {
			return slot.confirmed, nil, nil
		}
		st, err := s.newSnapshot(ctx, slot.confirmed.String())
		return slot.confirmed, st, err
	}
	p, st, err := ParseResume(from)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrPositionGone, err)
	}
	if p > slot.current {
		return 0, nil, fmt.Errorf("%w: resume position %s is past the server's current WAL position %s (%s): the checkpoint is from another server, or this one was restored from a backup; streaming would skip what it writes below that position — rewind the checkpoint (checkpoints rewind) or re-snapshot", ErrPositionAhead, p, slot.current, s.addr())
	}
	if p >= slot.confirmed {
		return p, st, nil
	}
	if s.cfg.Snapshot.Mode == snapshot.WhenNeeded {
		st, err := s.newSnapshot(ctx, slot.confirmed.String())
		s.log.Warn("the checkpoint is behind the replication slot; snapshot mode when_needed: streaming from the slot's position and re-reading every table. Changes in between are not emitted as changes: the snapshot replaces them (deletes in between are not seen)",
			"checkpoint", p.String(), "slot_confirmed", slot.confirmed.String())
		return slot.confirmed, st, err
	}
	return 0, nil, fmt.Errorf("%w: resume position %s is older than confirmed_flush_lsn %s of slot %s; PostgreSQL cannot replay WAL before confirmed_flush_lsn (it would silently start there) — events between them may be missing downstream: re-snapshot the tables (snapshot.mode when_needed does it), then delete the checkpoint", ErrPositionGone, p, slot.confirmed, s.cfg.Slot)
}

// newSnapshot plans a snapshot named id of the configured tables, or of
// every captured table (nil when there is none).
func (s *Source) newSnapshot(ctx context.Context, id string) (*snapshot.State, error) {
	tables := slices.Clone(s.cfg.Snapshot.Tables)
	if len(tables) == 0 {
		r := newReader(s)
		all, err := r.Tables(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the tables to snapshot: %w", err)
		}
		for _, n := range all {
			tables = append(tables, n[0]+"."+n[1])
		}
	}
	return snapshot.New(id, tables), nil
}

// setRun registers (nil: clears) the running Stream's snapshot machinery;
// registering hands it the tables requested meanwhile and starts readers.
func (s *Source) setRun(run *snapRun) {
	s.reqMu.Lock()
	s.run = run
	queued := s.requested
	if run != nil {
		s.requested = nil
	}
	s.reqMu.Unlock()
	if run == nil {
		return
	}
	if len(queued) > 0 {
		added, _ := run.add(queued) // the run has not ended: the stream starts it
		s.log.Info("on-demand snapshot queued", "tables", strings.Join(added, ","))
	}
	run.spawn()
}

// RequestSnapshot implements capture.Snapshotter: it checks that every
// table is "schema.table", captured, present and keyed, then queues it. A
// running Stream starts reading it at once (a new snapshot, or appended to
// the one running); the state is in every Commit the stream hands over
// from the table's first chunk on. Requests made while no Stream runs are
// taken when one starts.
func (s *Source) RequestSnapshot(tables []string) error {
	clean, err := s.checkSnapshotTables(context.Background(), tables)
	if err != nil {
		return err
	}
	if s.isClosed() {
		return errors.New("source is closed")
	}
	var ended *snapRun // a run that refused the request: its stream is ending
	for {
		s.reqMu.Lock()
		run := s.run
		if run == nil || run == ended {
			// The next stream takes the request (setRun).
			s.requested = append(s.requested, clean...)
			s.reqMu.Unlock()
			s.log.Info("on-demand snapshot requested; it starts with the stream", "tables", strings.Join(clean, ","))
			return nil
		}
		s.reqMu.Unlock()
		added, ok := run.add(clean)
		if ok {
			s.log.Info("on-demand snapshot queued", "tables", strings.Join(added, ","), "already_queued", len(clean)-len(added))
			return nil
		}
		ended = run
	}
}

// CheckSnapshotTables reports (wrapping ErrSnapshotRequest) the tables a
// snapshot could not read: not schema.table, not captured, missing or
// without a key. Other errors mean the check could not be made.
func (s *Source) CheckSnapshotTables(ctx context.Context, tables []string) error {
	_, err := s.checkSnapshotTables(ctx, tables)
	return err
}

// checkSnapshotTables refuses tables the snapshot could not read and
// returns the others, trimmed and de-duplicated.
func (s *Source) checkSnapshotTables(ctx context.Context, tables []string) ([]string, error) {
	return snapshot.CheckRequest(ctx, snapshot.Request{
		Source: s.name, Form: "schema.table", Tables: tables, Captured: s.filter.match,
		Check: func(ctx context.Context, t, schema, tbl string) (refused, err error) {
			var exists, keyed bool
			err = s.withDB(ctx, func(db *pgx.Conn) error {
				return db.QueryRow(ctx, `SELECT c.oid IS NOT NULL,
				EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
				FROM (SELECT to_regclass($1) AS oid) c`, pgx.Identifier{schema, tbl}.Sanitize()).Scan(&exists, &keyed)
			})
			switch {
			case err != nil:
				return nil, fmt.Errorf("check table %s on %s: %w", t, s.addr(), err)
			case !exists:
				return fmt.Errorf("%w: table %s does not exist in %s on %s", ErrSnapshotRequest, t, s.cfg.Database, s.addr()), nil
			case !keyed && s.cfg.KeyColumns[t] == nil:
				return snapshot.NoKeyError(s.name, t), nil
			}
			return nil, nil
		},
	})
}

// SnapshotProgress implements capture.SnapshotReporter.
func (s *Source) SnapshotProgress() []capture.TableProgress { return s.progress.Tables() }
