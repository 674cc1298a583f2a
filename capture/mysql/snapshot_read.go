package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/tributary-cdc/tributary/capture"
)

// chunk is one SELECT's rows on their way from the snapshot reader to the
// stream loop, with the binlog positions that bracket the read.
type chunk struct {
	id    string // SnapshotState.ID
	name  string // "db.table"
	table *capture.Table
	rows  [][]any
	// The rows are the table's state somewhere in [low, high]; every
	// transaction before low is in them. On MariaDB low == high: the read
	// is a consistent snapshot at exactly that position.
	low, high Position
	prev      []any          // key the chunk starts after; nil: the table's start
	done      bool           // the last chunk of the table (or the table was skipped)
	next      *SnapshotState // set by the stream loop: pending work once this chunk is emitted; nil: finished
	emitted   chan struct{}  // closed by the stream loop after emitting
}

// snapMsg goes from the snapshot reader to the stream loop: either "start
// recording the row keys of table watch" (acknowledged by closing ack) or
// a chunk to emit.
type snapMsg struct {
	watch string
	ack   chan struct{}
	chunk *chunk
}

// progressEvery is how often a table's snapshot progress is logged.
const progressEvery = 5 * time.Second

// readSnapshot reads the tables of state chunk by chunk and hands each chunk
// to the stream loop through ctl, waiting until it was emitted before
// reading the next: memory holds one chunk. It returns nil when every table
// is done.
func (s *Source) readSnapshot(ctx context.Context, r *Reader, state *SnapshotState, ctl chan<- snapMsg) error {
	cfg := s.cfg.Snapshot
	var lim *rate.Limiter
	if cfg.RowsPerSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.RowsPerSecond), max(cfg.ChunkSize, int(cfg.RowsPerSecond)))
	}
	send := func(m snapMsg, wait chan struct{}) error {
		select {
		case ctl <- m:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-wait:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	st := state.clone()
	for st != nil {
		db, tbl := splitTable(st.Table)
		t, err := r.Table(ctx, db, tbl)
		if err != nil {
			if exists, qerr := tableExists(ctx, r.db, db, tbl); qerr == nil && !exists {
				// Dropped since the snapshot was planned: nothing to read.
				s.log.Warn("snapshot: table no longer exists; skipped", "table", st.Table)
				c := &chunk{id: st.ID, name: st.Table, prev: st.After, done: true, emitted: make(chan struct{})}
				if err := send(snapMsg{chunk: c}, c.emitted); err != nil {
					return err
				}
				st = c.next
				continue
			}
			return &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: %w", st.Table, err)}
		}
		if len(t.Key) == 0 {
			return &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: the table has no primary key; name a unique NOT NULL key in sources[%s].key_columns or leave the table out of the snapshot", st.Table, s.name)}
		}
		total, _ := r.ApproxRows(ctx, db, tbl) // an estimate for progress only
		pi := s.progress.start(st.ID, st.Table, total)
		s.log.Info("snapshot of table started", "table", st.Table, "approx_rows", total, "resume_after_chunk", st.After != nil)
		lastLog := time.Now()
		for {
			ack := make(chan struct{})
			if err := send(snapMsg{watch: st.Table, ack: ack}, ack); err != nil {
				return err
			}
			c, err := s.readChunk(ctx, r, db, tbl, st.After)
			if err != nil {
				return err
			}
			c.id, c.name, c.prev, c.emitted = st.ID, st.Table, st.After, make(chan struct{})
			c.done = len(c.rows) < cfg.ChunkSize
			done := c.done
			if lim != nil {
				for n := len(c.rows); n > 0; n -= lim.Burst() {
					if err := lim.WaitN(ctx, min(n, lim.Burst())); err != nil {
						return err
					}
				}
			}
			if err := send(snapMsg{chunk: c}, c.emitted); err != nil {
				return err
			}
			p := s.progress.add(pi, len(c.rows), done)
			if done || time.Since(lastLog) >= progressEvery {
				lastLog = time.Now()
				s.log.Info("snapshot progress", "table", p.Table, "rows", p.RowsDone, "approx_total", p.RowsTotal,
					"rows_per_second", int64(p.Rate()), "eta", p.ETA().Round(time.Second).String(), "done", p.Done)
			}
			st = c.next // the stream loop's state, with any tables requested meanwhile
			if done {
				break
			}
		}
	}
	s.log.Info("snapshot finished")
	return nil
}

// readChunk reads the next chunk of db.tbl after key after, bracketed by
// binlog positions. On MariaDB the SELECT runs in START TRANSACTION WITH
// CONSISTENT SNAPSHOT, whose Binlog_snapshot_file/position status names the
// exact binlog position of its read view (no lock, no privilege needed). On
// MySQL the positions come from SHOW MASTER STATUS before and after.
//
// r must have a single connection, so that the statements share a session.
func (s *Source) readChunk(ctx context.Context, r *Reader, db, tbl string, after []any) (*chunk, error) {
	limit := s.cfg.Snapshot.ChunkSize
	if s.cfg.Flavor != FlavorMariaDB {
		low, err := s.currentPosition(ctx, r.db)
		if err != nil {
			return nil, err
		}
		t, rows, err := r.ReadChunk(ctx, db, tbl, after, limit)
		if err != nil {
			return nil, err
		}
		high, err := s.currentPosition(ctx, r.db)
		if err != nil {
			return nil, err
		}
		return &chunk{table: t, rows: rows, low: low, high: high}, nil
	}
	var connID, connID2 int64
	if err := r.db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	if _, err := r.db.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: start consistent snapshot: %w", db, tbl, err)
	}
	defer r.db.ExecContext(context.WithoutCancel(ctx), "COMMIT") //nolint:errcheck // read-only: nothing to lose
	at, err := snapshotPosition(ctx, r.db)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	t, rows, err := r.ReadChunk(ctx, db, tbl, after, limit)
	if err != nil {
		return nil, err
	}
	if err := r.db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID2); err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	if connID != connID2 {
		// The pool reconnected: the SELECT may have run outside the snapshot.
		return nil, fmt.Errorf("snapshot of %s.%s: the connection was replaced during a chunk read", db, tbl)
	}
	return &chunk{table: t, rows: rows, low: at, high: at}, nil
}

// tableExists reports whether db.tbl is a table on the server now.
func tableExists(ctx context.Context, db *sql.DB, schema, table string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&n)
	return n > 0, err
}

// snapshotPosition reads MariaDB's Binlog_snapshot_file/position: in a
// transaction started WITH CONSISTENT SNAPSHOT, the binlog position that
// matches its read view exactly.
func snapshotPosition(ctx context.Context, db *sql.DB) (Position, error) {
	rows, err := db.QueryContext(ctx, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return Position{}, fmt.Errorf("read binlog snapshot position: %w", err)
	}
	defer rows.Close()
	var p Position
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return Position{}, fmt.Errorf("read binlog snapshot position: %w", err)
		}
		switch name {
		case "Binlog_snapshot_file":
			p.File = value
		case "Binlog_snapshot_position":
			if _, err := fmt.Sscan(value, &p.Pos); err != nil {
				return Position{}, fmt.Errorf("binlog snapshot position %q: %w", value, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Position{}, err
	}
	if p.File == "" {
		return Position{}, errors.New("the server reports no Binlog_snapshot_file; is log_bin enabled?")
	}
	return p, nil
}
