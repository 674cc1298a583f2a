package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// ErrPositionGone means the resume position is older than the slot's
// confirmed_flush_lsn. PostgreSQL cannot go back: it would silently start
// at confirmed_flush_lsn and skip what lies between.
var ErrPositionGone = errors.New("position older than the replication slot")

// ErrPositionAhead means the resume position lies past the server's
// current WAL position: the checkpoint comes from another server or from
// before this one was restored. Streaming would skip what the server
// writes below it.
var ErrPositionAhead = errors.New("position ahead of the server")

// heartbeatPrefix is the prefix of the logical decoding messages the
// heartbeat writes.
const heartbeatPrefix = "tributary-heartbeat"

// Stream implements capture.Source. It checks the server, the slot and the
// publication (creating those that are absent and configured to be
// created), then streams from `from` (an LSN; empty: the slot's
// confirmed_flush_lsn).
//
// Every change is handed over as it is decoded, never buffered per
// transaction. pgoutput (without streaming) sends only committed
// transactions, in commit order. Each transaction ends with a Commit whose
// Position is its end LSN; each Change carries the Position of the Commit
// before it, where a resume re-reads its transaction. While no transaction
// is open and every Commit handed over has come back through Confirm, the
// server's WAL position (from keepalives and heartbeat messages) is handed
// over as a Commit without changes, so the slot advances while the captured
// tables are idle.
//
// A misconfiguration (ErrPreflight), a missing or invalidated slot
// (ErrSlotGone), a position behind the slot (ErrPositionGone) and one past
// the server's WAL (ErrPositionAhead) come back
// as *capture.PermanentError.
func (s *Source) Stream(ctx context.Context, from capture.Resume, h capture.Handler) error {
	err := s.stream(ctx, from, h)
	if errors.Is(err, ErrPreflight) || errors.Is(err, ErrSlotGone) || errors.Is(err, ErrPositionGone) || errors.Is(err, ErrPositionAhead) {
		return &capture.PermanentError{Err: err}
	}
	return s.permanentIfRefused(err)
}

func (s *Source) stream(ctx context.Context, from capture.Resume, h capture.Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("source is closed")
	}
	s.cancel = cancel
	s.mu.Unlock()

	if len(s.cfg.FailoverAddrs) > 0 {
		if err := s.selectPrimary(ctx); err != nil {
			return err
		}
	}
	if err := s.checkServer(ctx); err != nil {
		return err
	}
	slotFrom := from.Position
	if s.cfg.Snapshot.Mode == snapshot.WhenNeeded {
		slotFrom = "" // a missing slot is created; startPosition re-snapshots
	}
	slot, err := s.ensureSlot(ctx, slotFrom)
	if err != nil {
		return err
	}
	if err := s.ensurePublication(ctx); err != nil {
		return err
	}
	if len(s.cfg.FailoverAddrs) > 0 {
		s.checkFailoverReady(ctx)
	}
	start, snap, err := s.startPosition(ctx, from, slot)
	if err != nil {
		return err
	}
	if err := s.startToast(start); err != nil {
		return err
	}
	if st, err := s.SlotStatus(ctx); err == nil {
		if w := slotWarning(s.cfg.Slot, st); w != "" {
			s.log.Warn(w)
		}
	}

	if err := s.takeOverSlot(ctx); err != nil {
		return err
	}
	conn, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	err = pglogrepl.StartReplication(ctx, conn, s.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		// No "streaming": in-progress transactions that may still abort
		// must never reach the handler.
		PluginArgs: []string{"proto_version '1'", "publication_names '" + s.cfg.Publication + "'", "messages 'true'"},
	})
	if err != nil {
		return s.serverError(fmt.Sprintf("start replication at %s", start), err)
	}
	s.log.Info("streaming WAL", "slot", s.cfg.Slot, "publication", s.cfg.Publication, "from", start.String())

	loopCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var snapErr error
	var snapErrOnce sync.Once
	run := newSnapRun(loopCtx, s, snap, func(err error) {
		snapErrOnce.Do(func() { snapErr = err })
		stop() // the status loop closes the connection: the receive below ends
	})
	run.lastLSN.Store(uint64(start))
	kick := make(chan struct{}, 1)
	sendErr := make(chan error, 1)
	wg.Go(func() { s.statusLoop(loopCtx, conn, slot.confirmed, kick, sendErr) })
	wg.Go(func() { s.heartbeatLoop(loopCtx) })
	var wd receiveWatchdog
	wg.Go(func() { wd.run(loopCtx, conn, s.cfg.ReadTimeout) })
	defer func() { stop(); wg.Wait(); run.wait(); s.setRun(nil) }()

	st := &streamState{s: s, h: h, kick: kick, lastCommit: start, rels: map[uint32]*relation{},
		types: typeResolver{lookup: s.lookupType}, run: run}
	if s.toast != nil {
		st.h = &toastFiller{Handler: h, cache: s.toast, unfilled: s.toastUnfilled, st: st}
	}
	if snap != nil {
		s.log.Info("snapshot running alongside the stream", "tables", snap.String(), "parallel", s.cfg.Snapshot.Parallel)
	}
	s.setRun(run) // takes requests queued while no stream ran, starts readers
	for {
		// No deadline: the status loop writes concurrently, and pgconn's
		// deadline-based cancellation would also cut off its writes.
		wd.waiting()
		raw, err := conn.ReceiveMessage(context.Background())
		wd.received()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if loopCtx.Err() != nil && snapErr != nil {
				return snapErr
			}
			if wd.fired() {
				return fmt.Errorf("receive WAL at %s: nothing from %s for %s (read_timeout; a half-open connection?): %w", st.lastCommit, s.addr(), s.cfg.ReadTimeout, err)
			}
			select {
			case err := <-sendErr:
				return err
			default:
			}
			return s.serverError(fmt.Sprintf("receive WAL at %s", st.lastCommit), err)
		}
		switch m := raw.(type) {
		case *pgproto3.CopyData:
			err = st.copyData(ctx, m.Data)
		case *pgproto3.ErrorResponse:
			err = s.serverError(fmt.Sprintf("receive WAL at %s", st.lastCommit), pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			err = fmt.Errorf("receive WAL at %s: the server ended replication", st.lastCommit)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// serverError wraps err with what was done, turning a missing slot into
// ErrSlotGone.
func (s *Source) serverError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object
		return fmt.Errorf("%s: %w: slot %s no longer exists (%s); events after the last checkpoint may have been lost on the server side — re-snapshot the tables, then delete the checkpoint", what, ErrSlotGone, s.cfg.Slot, pgErr.Message)
	}
	if errors.As(err, &pgErr) && pgErr.Code == "55000" { // object_not_in_prerequisite_state: invalidated slot
		why := pgErr.Message
		if pgErr.Detail != "" { // the cause of the invalidation
			why += ": " + pgErr.Detail
		}
		return fmt.Errorf("%s: %w: slot %s cannot be used (%s); events after the last checkpoint may have been lost on the server side — re-snapshot the tables, drop the slot and delete the checkpoint", what, ErrSlotGone, s.cfg.Slot, why)
	}
	return fmt.Errorf("%s from %s: %w", what, s.addr(), err)
}

// statusLoop reports the confirmed position every status_interval and
// when kicked (the server asked for a reply). It reports the same LSN as
// written, flushed and applied: pglogrepl's StandbyStatusUpdate counts a
// lone write position as flushed, and the slot moves to the flushed one.
// Until Confirm reached the slot's own confirmed_flush_lsn (floor) it
// reports nothing (0, which the server ignores): on PostgreSQL before 17 a
// lower report would move the slot backwards. When ctx ends it closes the
// connection, which ends the reader's blocking receive.
func (s *Source) statusLoop(ctx context.Context, conn *pgconn.PgConn, floor pglogrepl.LSN, kick <-chan struct{}, sendErr chan<- error) {
	defer conn.Conn().Close()
	tick := time.NewTicker(s.cfg.StatusInterval)
	defer tick.Stop()
	last := pglogrepl.LSN(0)
	for {
		lsn := pglogrepl.LSN(s.confirmed.Load())
		if lsn < floor {
			lsn = 0
		}
		err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn, ClientTime: time.Now(),
		})
		if err != nil {
			if ctx.Err() == nil {
				sendErr <- fmt.Errorf("send standby status at %s to %s: %w", lsn, s.addr(), err)
			}
			return
		}
		if lsn != last {
			s.log.Debug("confirmed to server", "position", lsn.String())
			last = lsn
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-kick:
		}
	}
}

// heartbeatLoop writes a logical decoding message into the captured
// database every heartbeat, so that the slot sees decodable traffic there;
// it changes no table and no schema. It also logs slot health warnings.
func (s *Source) heartbeatLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	failing := false
	lastHealth := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Bounded: a dead connection must not hold the SQL connection's
		// lock (lag queries wait on it) past the next heartbeat.
		hctx, cancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
		err := s.withDB(hctx, func(db *pgx.Conn) error {
			_, err := db.Exec(hctx, "SELECT pg_logical_emit_message(false, '"+heartbeatPrefix+"', '')")
			return err
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !failing {
			s.log.Warn("heartbeat failed; the slot may not advance while the captured tables are idle", "err", err)
		}
		failing = err != nil
		if time.Since(lastHealth) >= 5*time.Minute {
			lastHealth = time.Now()
			if st, err := s.SlotStatus(ctx); err == nil {
				if w := slotWarning(s.cfg.Slot, st); w != "" {
					s.log.Warn(w)
				}
			}
		}
	}
}

// lookupType reads one pg_type row.
func (s *Source) lookupType(ctx context.Context, oid uint32) (catalogType, error) {
	var ct catalogType
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT typname, typtype::text, typcategory::text, typelem, typbasetype FROM pg_type WHERE oid = $1`, oid).
			Scan(&ct.name, &ct.typtype, &ct.category, &ct.elem, &ct.base)
	})
	return ct, err
}

// streamState is the reader's state of one Stream call.
type streamState struct {
	s     *Source
	h     capture.Handler
	kick  chan<- struct{}
	rels  map[uint32]*relation
	types typeResolver

	// lastCommit is the position of the last Commit handed over (at first
	// the start position): where a resume re-reads the open transaction.
	lastCommit pglogrepl.LSN
	emitted    bool // a Commit was handed over during this Stream
	// run is the snapshot machinery; ring and released are the loop's
	// side of it (snapshot_merge.go).
	run      *snapRun
	ring     xidRing
	released []*chunk
	inTx     bool
	begin    pglogrepl.BeginMessage
	n        int // index of the next change within the transaction
}

func (st *streamState) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("parse keepalive after %s: %w", st.lastCommit, err)
		}
		if pkm.ReplyRequested {
			select {
			case st.kick <- struct{}{}:
			default:
			}
		}
		return st.idleAdvance(ctx, pkm.ServerWALEnd, pkm.ServerTime)
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("parse WAL data after %s: %w", st.lastCommit, err)
		}
		msg, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return fmt.Errorf("decode pgoutput message at %s: %w", xld.WALStart, err)
		}
		return st.message(ctx, msg, xld.WALStart)
	}
	return nil
}

// idleAdvance hands over lsn as a Commit without changes when that is safe:
// no transaction is open (everything committed before lsn was handed over)
// and every earlier Commit was confirmed, so at most one such Commit is in
// flight at a time.
func (st *streamState) idleAdvance(ctx context.Context, lsn pglogrepl.LSN, at time.Time) error {
	if st.inTx || lsn <= st.lastCommit {
		return nil
	}
	if st.emitted && pglogrepl.LSN(st.s.confirmed.Load()) < st.lastCommit {
		return nil
	}
	st.lastCommit, st.emitted = lsn, true
	st.run.lastLSN.Store(uint64(lsn))
	return st.h.Commit(ctx, st.run.commitAt(lsn, at))
}

func (st *streamState) message(ctx context.Context, msg pglogrepl.Message, at pglogrepl.LSN) error {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r, err := st.newRelation(ctx, m)
		if err != nil {
			return fmt.Errorf("relation %s.%s at %s: %w", m.Namespace, m.RelationName, at, err)
		}
		old, known := st.rels[m.RelationID]
		st.rels[m.RelationID] = r
		if known && r.changedFrom(old) {
			return st.relationChanged(ctx, r)
		}
	case *pglogrepl.BeginMessage:
		st.inTx, st.begin, st.n = true, *m, 0
		st.ring.put(m.Xid, st.run.seq.Add(1))
	case *pglogrepl.CommitMessage:
		st.inTx = false
		st.lastCommit, st.emitted = max(st.lastCommit, m.TransactionEndLSN), true
		st.run.lastLSN.Store(uint64(st.lastCommit))
		err := st.h.Commit(ctx, st.run.commitAt(m.TransactionEndLSN, m.CommitTime))
		if err == nil {
			st.release()
		}
		return err
	case *pglogrepl.InsertMessage:
		return st.change(ctx, m.RelationID, capture.OpCreate, func(r *relation) (before, after []any, err error) {
			after, err = r.values(m.Tuple, false)
			return nil, after, err
		})
	case *pglogrepl.UpdateMessage:
		return st.change(ctx, m.RelationID, capture.OpUpdate, func(r *relation) (before, after []any, err error) {
			if before, err = r.oldImage(m.OldTupleType, m.OldTuple); err != nil {
				return nil, nil, err
			}
			if after, err = r.values(m.NewTuple, false); err != nil {
				return nil, nil, err
			}
			if m.OldTupleType == 'O' {
				fillUnchanged(after, before)
			}
			return before, after, nil
		})
	case *pglogrepl.DeleteMessage:
		return st.change(ctx, m.RelationID, capture.OpDelete, func(r *relation) (before, after []any, err error) {
			before, err = r.oldImage(m.OldTupleType, m.OldTuple)
			return before, nil, err
		})
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			err := st.change(ctx, id, capture.OpTruncate, func(*relation) (before, after []any, err error) { return nil, nil, nil })
			if err != nil {
				return err
			}
		}
	case *pglogrepl.LogicalDecodingMessage:
		if m.Prefix == heartbeatPrefix && !m.Transactional {
			return st.idleAdvance(ctx, m.LSN, time.Now())
		}
		if m.Prefix == snapshotPrefix && m.Transactional {
			return st.emitChunk(ctx, string(m.Content))
		}
	}
	return nil
}

// change builds one Change of relation id and hands it over. Changes of
// tables outside include/exclude are counted (so indexes stay the same
// whatever the filter) but not handed over.
func (st *streamState) change(ctx context.Context, id uint32, op capture.Op, images func(*relation) (before, after []any, err error)) error {
	n := st.n
	st.n++
	eventPos := st.begin.FinalLSN.String() + ":" + strconv.Itoa(n)
	r, ok := st.rels[id]
	if !ok {
		return fmt.Errorf("change %s refers to relation %d, which the server did not describe", eventPos, id)
	}
	if !r.captured {
		return nil
	}
	before, after, err := images(r)
	if err != nil {
		return fmt.Errorf("decode change %s: %w", eventPos, err)
	}
	st.observe(r, op, before, after)
	return st.h.Change(ctx, &capture.Change{
		Op: op, Table: r.table, Before: before, After: after,
		Position: st.lastCommit.String(), EventPosition: eventPos, // the LSN only: the snapshot state is the checkpoint's
		TxID:       strconv.FormatUint(uint64(st.begin.Xid), 10),
		CommitTime: st.begin.CommitTime,
	})
}
