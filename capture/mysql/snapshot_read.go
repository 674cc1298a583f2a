package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// chunk is one SELECT's rows on their way from a snapshot reader to the
// stream loop, with the binlog positions that bracket the read.
type chunk struct {
	id    string // snapshot.State.ID
	name  string // "db.table"
	table *capture.Table
	rows  [][]any
	cut   bool // the rows reached chunk_bytes: the chunk ends at its last row
	// The rows are the table's state somewhere in [low, high]; every
	// transaction before low is in them. On MariaDB low == high: the read
	// is a consistent snapshot at exactly that position.
	low, high Position
	prev      []any // key the chunk starts after; nil: the table's start
	done      bool  // the last chunk of the table (or the table was skipped)
	// next is set by the stream loop before it closes emitted: the
	// reader's next work (this table's next chunk or another table), nil
	// when the reader ends.
	next    *work
	emitted chan struct{} // closed by the stream loop after emitting
}

// snapMsg goes from a snapshot reader to the stream loop: either "start
// recording the row changes of table watch" (acknowledged by closing ack)
// or a chunk to emit.
type snapMsg struct {
	watch string
	ack   chan struct{}
	// executed receives, before ack is closed, the GTIDs of every
	// transaction the loop has emitted rows of ("" without GTIDs): the
	// MySQL flavor's reader waits until the server has committed them.
	executed *string
	// lastRow receives, before ack is closed, the position of the last
	// rows event of the watched table the loop emitted (zero if none).
	lastRow *Position
	chunk   *chunk
}

// runReader reads tables chunk by chunk, starting with w, on a connection
// of its own, and hands each chunk to the stream loop through ctl, waiting
// until it was emitted before reading the next: each reader holds at most
// one chunk. The loop says what to read next; runReader returns nil when
// the loop has no more work for it. lim is shared by every reader of the
// source.
func (s *Source) runReader(ctx context.Context, w work, lim *snapshot.Limiter, ctl chan<- snapMsg) error {
	r, err := s.NewReader()
	if err != nil {
		return err
	}
	defer r.Close()
	r.db.SetMaxOpenConns(1) // a chunk's statements must share a session
	for next := &w; next != nil; {
		if next, err = s.readTable(ctx, r, *next, lim, ctl); err != nil {
			return err
		}
	}
	return nil
}

// readTable reads w's table from its cursor to its end and returns the
// reader's next work.
func (s *Source) readTable(ctx context.Context, r *Reader, w work, lim *snapshot.Limiter, ctl chan<- snapMsg) (*work, error) {
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
	name := w.cur.Table
	db, tbl := snapshot.Split(name)
	t, err := r.Table(ctx, db, tbl)
	if err != nil {
		if exists, qerr := tableExists(ctx, r.db, db, tbl); qerr == nil && !exists {
			// Dropped since the snapshot was planned: nothing to read.
			s.log.Warn("snapshot: table no longer exists; skipped", "table", name)
			c := &chunk{id: w.id, name: name, prev: w.cur.After, done: true, emitted: make(chan struct{})}
			if err := send(snapMsg{chunk: c}, c.emitted); err != nil {
				return nil, err
			}
			return c.next, nil
		}
		return nil, &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: %w", name, err)}
	}
	if len(t.Key) == 0 {
		return nil, &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: the table has no primary key; name a unique NOT NULL key in sources[%s].key_columns or leave the table out of the snapshot", name, s.name)}
	}
	total, _ := r.ApproxRows(ctx, db, tbl) // an estimate for progress only
	pi := s.progress.Start(w.id, name, total)
	s.log.Info("snapshot of table started", "table", name, "approx_rows", total, "resume_after_chunk", w.cur.After != nil)
	lastLog := time.Now()
	for {
		c, err := s.watchAndRead(ctx, r, name, w.cur.After, send)
		if err != nil {
			return nil, err
		}
		c.id, c.name, c.prev, c.emitted = w.id, name, w.cur.After, make(chan struct{})
		c.done = !c.cut && len(c.rows) < s.cfg.Snapshot.ChunkSize
		if err := lim.Wait(ctx, len(c.rows)); err != nil {
			return nil, err
		}
		if err := send(snapMsg{chunk: c}, c.emitted); err != nil {
			return nil, err
		}
		p := s.progress.Add(pi, len(c.rows), c.done)
		if c.done || time.Since(lastLog) >= snapshot.LogEvery {
			lastLog = time.Now()
			s.log.Info("snapshot progress", "table", p.Table, "rows", p.RowsDone, "approx_total", p.RowsTotal,
				"rows_per_second", int64(p.Rate()), "eta", p.ETA().Round(time.Second).String(), "done", p.Done)
		}
		if c.done || c.next == nil || c.next.cur.Table != name {
			return c.next, nil
		}
		w = *c.next // the stream loop's cursor for the table
	}
}

// watchAndRead has the stream loop record the changes of table name and
// reads its next chunk after key after. On MariaDB the stream may have
// emitted a transaction that the binlog holds but the engine has not
// committed yet (group commit writes the binlog first, and the dump thread
// sends it at once): a consistent snapshot taken then is older than an
// event already emitted, outside the watch, and would re-emit a stale row.
// Such a chunk is read again; the engine commit follows in moments.
func (s *Source) watchAndRead(ctx context.Context, r *Reader, name string, after []any, send func(snapMsg, chan struct{}) error) (*chunk, error) {
	db, tbl := snapshot.Split(name)
	for attempt := 1; ; attempt++ {
		ack, executed, lastRow := make(chan struct{}), new(string), new(Position)
		if err := send(snapMsg{watch: name, ack: ack, executed: executed, lastRow: lastRow}, ack); err != nil {
			return nil, err
		}
		c, err := s.readChunk(ctx, r, db, tbl, after, *executed)
		if err != nil {
			return nil, err
		}
		if s.cfg.Flavor != FlavorMariaDB || coversEmitted(c.low, *lastRow) {
			return c, nil
		}
		s.stats.chunkRereads.Add(1)
		if attempt == maxChunkReads {
			return nil, fmt.Errorf("snapshot of %s: %d consistent snapshots in a row were older than a change the stream had already emitted (%s before %s); the server is not committing what it wrote to the binlog",
				name, attempt, c.low, *lastRow)
		}
		s.log.Debug("snapshot chunk older than an emitted change; reading it again", "table", name, "snapshot_at", c.low.String(), "emitted_at", lastRow.String())
		select {
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// maxChunkReads bounds watchAndRead's attempts at one chunk (about 10 s of
// backoff in all).
const maxChunkReads = 60

// coversEmitted reports whether a MariaDB chunk read at the consistent
// snapshot position low sees the transaction of lastRow, the last rows
// event of its table emitted before the watch began. low is a transaction
// boundary, so it covers the event only if it lies after it.
func coversEmitted(low, lastRow Position) bool {
	return lastRow.File == "" || low.Compare(lastRow) > 0
}

// readChunk reads the next chunk of db.tbl after key after, bracketed by
// binlog positions. On MariaDB the SELECT runs in START TRANSACTION WITH
// CONSISTENT SNAPSHOT, whose Binlog_snapshot_file/position status names the
// exact binlog position of its read view (no lock, no privilege needed).
//
// MySQL has no such status, and its binlog position is no watermark: group
// commit writes a transaction to the binlog (and the dump thread may send
// it) before InnoDB commits it, so a transaction below SHOW MASTER STATUS
// can still be invisible to the SELECT. There the chunk is exact because:
//   - its low is "every change since the watch began" (a zero Position):
//     a key changed by any event the loop emits after the watch is dropped;
//   - a transaction emitted before the watch, or open at it, is in
//     executed (the loop's GTIDs); the reader waits with
//     WAIT_FOR_EXECUTED_GTID_SET until the server has committed all of them
//     (gtid_executed is updated after the engine commit), so the SELECT
//     sees every one of them;
//   - high, read after the SELECT, is past every transaction the SELECT
//     saw (committed, so written to the binlog, before it).
//
// Without GTIDs (gtid_mode=OFF) the wait is impossible and a transaction
// emitted just before the chunk's read but committed just after can leave
// a stale row; the README says to enable GTIDs for MySQL snapshots.
//
// r must have a single connection, so that the statements share a session.
func (s *Source) readChunk(ctx context.Context, r *Reader, db, tbl string, after []any, executed string) (*chunk, error) {
	limit := s.cfg.Snapshot.ChunkSize
	if s.cfg.Flavor != FlavorMariaDB {
		if err := waitExecuted(ctx, r.db, executed); err != nil {
			return nil, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
		}
		t, rows, cut, err := r.readChunk(ctx, db, tbl, after, limit, s.cfg.Snapshot.ChunkBytes)
		if err != nil {
			return nil, err
		}
		high, err := s.currentPosition(ctx, r.db)
		if err != nil {
			return nil, err
		}
		return &chunk{table: t, rows: rows, cut: cut, low: Position{}, high: high}, nil
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
	t, rows, cut, err := r.readChunk(ctx, db, tbl, after, limit, s.cfg.Snapshot.ChunkBytes)
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
	return &chunk{table: t, rows: rows, cut: cut, low: at, high: at}, nil
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

// waitExecuted waits until the server has committed every GTID of set.
func waitExecuted(ctx context.Context, db *sql.DB, set string) error {
	if set == "" {
		return nil
	}
	var timedOut sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", set, int(executedWait.Seconds())).Scan(&timedOut); err != nil {
		return fmt.Errorf("wait for the GTIDs already streamed to commit: %w", err)
	}
	if timedOut.Int64 != 0 {
		return fmt.Errorf("the server had not committed the GTIDs already streamed (%s) after %s", set, executedWait)
	}
	return nil
}

// executedWait bounds waitExecuted: a streamed transaction commits in
// moments unless the server is stuck.
const executedWait = 30 * time.Second
