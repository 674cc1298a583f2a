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

// watchRequest goes from a snapshot reader to the stream loop: "start
// recording the row changes of table from now on". The loop answers, before
// it closes ack, with what its window needs to know about the stream so far.
type watchRequest struct {
	table string
	ack   chan struct{}
	watch *snapshot.Watch[Position]
	// executed is the GTID set of every transaction the loop has emitted
	// rows of ("" without GTIDs): the MySQL flavor's reader waits until the
	// server has committed them.
	executed string
	// lastRow is the position of the last rows event of the table the loop
	// emitted (zero if none).
	lastRow Position
}

// chunkReader reads this source's tables for the snapshot engine, on a
// connection of its own.
type chunkReader struct {
	s   *Source
	r   *Reader
	ctl chan<- *watchRequest // to the stream loop
}

var _ snapshot.ChunkReader[Position] = (*chunkReader)(nil)

func (s *Source) newChunkReader(ctl chan<- *watchRequest) (snapshot.ChunkReader[Position], error) {
	r, err := s.NewReader()
	if err != nil {
		return nil, err
	}
	r.db.SetMaxOpenConns(1) // a chunk's statements must share a session
	return &chunkReader{s: s, r: r, ctl: ctl}, nil
}

func (c *chunkReader) Table(ctx context.Context, db, tbl string) (*capture.Table, error) {
	return c.r.Table(ctx, db, tbl)
}

func (c *chunkReader) TableExists(ctx context.Context, db, tbl string) (bool, error) {
	return tableExists(ctx, c.r.db, db, tbl)
}

func (c *chunkReader) ApproxRows(ctx context.Context, db, tbl string) (int64, error) {
	return c.r.ApproxRows(ctx, db, tbl)
}

// Place does nothing: the stream loop finds a chunk by its high watermark.
func (c *chunkReader) Place(context.Context, *chunk) error { return nil }

func (c *chunkReader) Close() error { return c.r.Close() }

// watch has the stream loop record the changes of table from now on.
func (c *chunkReader) watch(ctx context.Context, table string) (*watchRequest, error) {
	req := &watchRequest{table: table, ack: make(chan struct{})}
	select {
	case c.ctl <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-req.ack:
		return req, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ReadChunk has the stream loop record the changes of the table and reads
// its next chunk. On MariaDB the stream may have emitted a transaction
// that the binlog holds but the engine has not committed yet (group commit
// writes the binlog first, and the dump thread sends it at once): a
// consistent snapshot taken then is older than an event already emitted,
// outside the watch, and would re-emit a stale row. Such a chunk is read
// again; the engine commit follows in moments.
func (c *chunkReader) ReadChunk(ctx context.Context, q snapshot.ChunkRequest) (snapshot.Read[Position], error) {
	s := c.s
	for attempt := 1; ; attempt++ {
		req, err := c.watch(ctx, q.Name)
		if err != nil {
			return snapshot.Read[Position]{}, err
		}
		rd, err := s.readChunk(ctx, c.r, q, req.executed)
		rd.Watch = req.watch
		if err != nil {
			return rd, err
		}
		low := rd.Window.(window).low
		if s.cfg.Flavor != FlavorMariaDB || coversEmitted(low, req.lastRow) {
			return rd, nil
		}
		s.stats.chunkRereads.Add(1)
		if attempt == maxChunkReads {
			return rd, fmt.Errorf("snapshot of %s: %d consistent snapshots in a row were older than a change the stream had already emitted (%s before %s); the server is not committing what it wrote to the binlog",
				q.Name, attempt, low, req.lastRow)
		}
		s.log.Debug("snapshot chunk older than an emitted change; reading it again", "table", q.Name, "snapshot_at", low.String(), "emitted_at", req.lastRow.String())
		select {
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		case <-ctx.Done():
			return rd, ctx.Err()
		}
	}
}

// maxChunkReads bounds ReadChunk's attempts at one chunk (about 10 s of
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
func (s *Source) readChunk(ctx context.Context, r *Reader, q snapshot.ChunkRequest, executed string) (snapshot.Read[Position], error) {
	var none snapshot.Read[Position]
	db, tbl := q.Schema, q.Table
	if s.cfg.Flavor != FlavorMariaDB {
		if err := waitExecuted(ctx, r.db, executed); err != nil {
			return none, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
		}
		t, rows, cut, err := r.readChunk(ctx, db, tbl, q.After, q.Limit, q.MaxBytes)
		if err != nil {
			return none, err
		}
		high, err := s.currentPosition(ctx, r.db)
		if err != nil {
			return none, err
		}
		return snapshot.Read[Position]{Table: t, Rows: rows, Cut: cut, Window: window{low: Position{}, high: high}}, nil
	}
	var connID, connID2 int64
	if err := r.db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		return none, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	if _, err := r.db.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return none, fmt.Errorf("snapshot of %s.%s: start consistent snapshot: %w", db, tbl, err)
	}
	defer r.db.ExecContext(context.WithoutCancel(ctx), "COMMIT") //nolint:errcheck // read-only: nothing to lose
	at, err := snapshotPosition(ctx, r.db)
	if err != nil {
		return none, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	t, rows, cut, err := r.readChunk(ctx, db, tbl, q.After, q.Limit, q.MaxBytes)
	if err != nil {
		return none, err
	}
	if err := r.db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID2); err != nil {
		return none, fmt.Errorf("snapshot of %s.%s: %w", db, tbl, err)
	}
	if connID != connID2 {
		// The pool reconnected: the SELECT may have run outside the snapshot.
		return none, fmt.Errorf("snapshot of %s.%s: the connection was replaced during a chunk read", db, tbl)
	}
	return snapshot.Read[Position]{Table: t, Rows: rows, Cut: cut, Window: window{low: at, high: at}}, nil
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
