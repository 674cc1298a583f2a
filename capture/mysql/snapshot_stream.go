package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// streamWithSnapshot is the stream loop while a snapshot runs: it reads the
// binlog as the plain loop does and, in the same goroutine (the only caller
// of the handler), merges the chunks that the snapshot engine's readers
// hand over (snapshot.Engine: up to snapshot.parallel tables at once, each
// on a connection of its own).
//
// This source's part of the watermark algorithm, per chunk:
//  1. the reader asks the loop to record the row keys of the table from
//     now on (watchRequest), and waits until it does;
//  2. it reads the chunk between a low and a high binlog watermark (on
//     MariaDB both are the consistent snapshot's exact position);
//  3. the loop keeps streaming; once it has emitted every transaction
//     before high and is between transactions, it emits the chunk without
//     the rows whose key an emitted event at or after low touched (window),
//     and a Commit that carries the snapshot's progress.
//
// Chunks of different tables wait side by side and are emitted in the
// order the stream passes their high watermarks.
//
// state may be nil (an on-demand request switched a plain stream to this
// loop). On-demand requests (snapWake) start a new snapshot or append
// tables to the running one.
func (s *Source) streamWithSnapshot(ctx context.Context, streamer *replication.BinlogStreamer, st *streamState, state *snapshot.State) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		ev  *replication.BinlogEvent
		err error
	}
	events := make(chan result)
	go func() {
		for {
			ev, err := streamer.GetEvent(ctx)
			select {
			case events <- result{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	ctl := make(chan *watchRequest)
	failed := make(chan error, 1)
	eng := snapshot.NewEngine(ctx, state, snapshot.Options[Position]{
		Source: s.name, Config: s.cfg.Snapshot, Log: s.log, Progress: &s.progress,
		NewReader: func() (snapshot.ChunkReader[Position], error) { return s.newChunkReader(ctl) },
		Fail: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	})
	defer func() {
		cancel()
		eng.Wait() // readers log through s and count progress
	}()
	st.snap = eng
	eng.Start()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-s.snapWake:
			tables := s.takeRequested()
			if len(tables) == 0 {
				continue
			}
			fresh := eng.State() == nil
			added, _ := eng.Add(NewSnapshotID(st.boundary, time.Now()), tables) // the engine lives as long as this loop
			s.log.Info("on-demand snapshot queued", "tables", strings.Join(added, ","), "new_snapshot", fresh,
				"already_queued", len(tables)-len(added), "snapshot_id", eng.State().ID)
			if len(added) > 0 && !st.txOpen {
				// Between transactions: record the new work at once, so it
				// is durable at the next checkpoint even on an idle server.
				pos := st.resumePos()
				pos.Snapshot = eng.State()
				commitTime := st.lastCommit
				if commitTime.IsZero() {
					commitTime = time.Now()
				}
				st.src.stats.commits.Add(1)
				if err := st.h.Commit(ctx, commitAt(pos, commitTime)); err != nil {
					return fmt.Errorf("handle snapshot request commit: %w", err)
				}
			}
		case req := <-ctl:
			req.watch = eng.Watch(req.table, nil)
			req.executed = st.emittedGTIDs()
			db, tbl := snapshot.Split(req.table)
			req.lastRow = st.lastRowAt[[2]string{db, tbl}]
			close(req.ack)
		case <-eng.Queued():
			if err := st.emitReady(ctx, st.reached); err != nil {
				return err
			}
		case res := <-events:
			if res.err != nil {
				return s.readError(st.readPos(), res.err)
			}
			if !st.txOpen {
				starts := func(high Position) bool { return startsAtOrAfter(st, res.ev, high) }
				if err := st.emitReady(ctx, starts); err != nil {
					return err
				}
			}
			if err := st.handle(ctx, res.ev); err != nil {
				return err
			}
			if err := st.emitReady(ctx, st.reached); err != nil {
				return err
			}
		}
	}
}

// startsAtOrAfter reports whether ev, about to be handled, starts at or
// after pos in the file the stream is reading.
func startsAtOrAfter(st *streamState, ev *replication.BinlogEvent, pos Position) bool {
	h := ev.Header
	switch h.EventType {
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2, replication.ROTATE_EVENT:
		return false // no event of their own in the file
	}
	if h.LogPos == 0 || h.LogPos < h.EventSize {
		return false
	}
	return Position{File: st.file, Pos: h.LogPos - h.EventSize}.Compare(pos) >= 0
}

// binlogListed reports whether the server still lists file in SHOW BINARY
// LOGS (a purged checkpoint file is not).
func binlogListed(ctx context.Context, db *sql.DB, file string) (bool, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return false, fmt.Errorf("list binlogs: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return false, fmt.Errorf("list binlogs: %w", err)
		}
		found = found || vals[0].String == file
	}
	return found, rows.Err()
}

// emittedGTIDs is the GTID set of every transaction the loop has emitted
// rows of, the open one included ("" without GTIDs).
func (st *streamState) emittedGTIDs() string {
	if st.gset == nil {
		return ""
	}
	if st.txGTID == "" || !st.txOpen {
		return st.gset.String()
	}
	gs := st.gset.Clone()
	if err := gs.Update(st.txGTID); err != nil {
		return st.gset.String()
	}
	return gs.String()
}
