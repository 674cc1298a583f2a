package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrSlotGone means the replication slot a checkpoint belongs to no longer
// exists (dropped, or invalidated after exceeding max_slot_wal_keep_size).
// The server may have discarded WAL after the last checkpoint: the events in
// between can be lost, and the tables must be re-snapshotted.
var ErrSlotGone = errors.New("replication slot is gone")

// slotInfo is a pg_replication_slots row.
type slotInfo struct {
	exists    bool
	plugin    string
	slotType  string
	database  string
	walStatus string
	// invalidationReason is why the server invalidated the slot, ""
	// while it is valid and always on PostgreSQL before 17.
	invalidationReason string
	// failover and synced are PostgreSQL 17's columns (false before):
	// the slot is synchronised to standbys, or is such a copy.
	failover, synced bool
	confirmed        pglogrepl.LSN
	// current is the server's WAL write position when the slot was read.
	current pglogrepl.LSN
}

// newSlotColumn reads a pg_replication_slots column that older servers do
// not have (invalidation_reason came with PostgreSQL 17) as text, NULL
// where it is missing, so that one query serves every version.
func newSlotColumn(name string) string { return "to_jsonb(s)->>'" + name + "'" }

func (s *Source) readSlot(ctx context.Context) (slotInfo, error) {
	var si slotInfo
	var plugin, database, walStatus, reason, confirmed, failover, synced *string
	var current string
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT plugin, slot_type, database, wal_status, `+newSlotColumn("invalidation_reason")+`,
				`+newSlotColumn("failover")+`, `+newSlotColumn("synced")+`,
				confirmed_flush_lsn::text, pg_current_wal_lsn()::text
			FROM pg_replication_slots s WHERE slot_name = $1`, s.cfg.Slot).
			Scan(&plugin, &si.slotType, &database, &walStatus, &reason, &failover, &synced, &confirmed, &current)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return si, nil
	}
	if err != nil {
		return si, fmt.Errorf("read replication slot %s: %w", s.cfg.Slot, err)
	}
	si.exists = true
	si.plugin, si.database, si.walStatus, si.invalidationReason = deref(plugin), deref(database), deref(walStatus), deref(reason)
	si.failover, si.synced = deref(failover) == "true", deref(synced) == "true"
	if si.current, err = pglogrepl.ParseLSN(current); err != nil {
		return si, fmt.Errorf("read the server's WAL position: %w", err)
	}
	if confirmed != nil {
		if si.confirmed, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return si, fmt.Errorf("replication slot %s: confirmed_flush_lsn: %w", s.cfg.Slot, err)
		}
	}
	return si, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ensureSlot returns the slot, creating it when it is absent, create_slot
// is on and the caller has no checkpoint (from == ""). A missing slot with a
// checkpoint is ErrSlotGone: a new slot would silently skip what happened
// since the checkpoint.
func (s *Source) ensureSlot(ctx context.Context, from string) (slotInfo, error) {
	si, err := s.readSlot(ctx)
	if err != nil {
		return si, err
	}
	failover, err := s.cfg.wantFailoverSlot("sources["+s.name+"]", s.addr(), int(s.version.Load()))
	if err != nil {
		return si, err
	}
	if !si.exists {
		create := fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput');", s.cfg.Slot)
		if failover {
			create = fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput', failover => true);", s.cfg.Slot)
		}
		switch {
		case from != "" && len(s.cfg.FailoverAddrs) > 0:
			return si, fmt.Errorf("%w: slot %s does not exist in PostgreSQL at %s but the checkpoint %s was read through it: after a failover the promoted standby has the slot only if it was created with failover = true (failover_slot) and the standby ran with sync_replication_slots = on and hot_standby_feedback = on and had synchronised it (synced = true); events after the last checkpoint cannot be read — re-snapshot (snapshot.mode when_needed does it by itself), then delete the checkpoint", ErrSlotGone, s.cfg.Slot, s.addr(), from)
		case from != "":
			return si, fmt.Errorf("%w: slot %s does not exist in PostgreSQL at %s but the checkpoint %s was read through it; events after the last checkpoint may have been lost on the server side — re-snapshot the tables, then delete the checkpoint (the slot is recreated with create_slot on, or run %s)", ErrSlotGone, s.cfg.Slot, s.addr(), from, create)
		case !*s.cfg.CreateSlot:
			return si, fmt.Errorf("%w: replication slot %s does not exist and create_slot is off; create it in database %s: %s", ErrPreflight, s.cfg.Slot, s.cfg.Database, create)
		}
		if err := s.createSlot(ctx, failover); err != nil {
			return si, err
		}
		if si, err = s.readSlot(ctx); err != nil {
			return si, err
		}
		if !si.exists {
			return si, fmt.Errorf("replication slot %s vanished right after it was created", s.cfg.Slot)
		}
	}
	switch {
	case si.slotType != "logical" || si.plugin != "pgoutput":
		return si, fmt.Errorf("%w: replication slot %s is a %s slot with plugin %q; Tributary needs a logical slot using pgoutput — use another slot name", ErrPreflight, s.cfg.Slot, si.slotType, si.plugin)
	case si.database != s.cfg.Database:
		return si, fmt.Errorf("%w: replication slot %s decodes database %s, not %s — use another slot name", ErrPreflight, s.cfg.Slot, si.database, s.cfg.Database)
	case si.walStatus == "lost" || si.invalidationReason != "":
		return si, fmt.Errorf("%w: replication slot %s has wal_status=lost%s; events after the last checkpoint may have been lost on the server side — re-snapshot the tables, drop and recreate the slot and delete the checkpoint", ErrSlotGone, s.cfg.Slot, invalidationCause(si.invalidationReason))
	case failover && !si.failover && !si.synced:
		// A slot made before failover slots were asked for (or by hand).
		if err := s.alterSlotFailover(ctx); err != nil {
			return si, err
		}
		si.failover = true
	}
	return si, nil
}

// alterSlotFailover turns failover on for the existing slot (PostgreSQL
// 17+), so that standbys start synchronising it.
func (s *Source) alterSlotFailover(ctx context.Context) error {
	conn, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER_REPLICATION_SLOT %s (FAILOVER true)", s.cfg.Slot)).ReadAll(); err != nil {
		return fmt.Errorf("turn failover on for replication slot %s (sources[%s].failover_slot; false keeps it off): %w", s.cfg.Slot, s.name, err)
	}
	s.log.Info("turned failover on for the replication slot: standbys with sync_replication_slots keep a copy", "slot", s.cfg.Slot)
	return nil
}

// invalidationCause explains an invalidation_reason, naming the setting
// behind it. Before PostgreSQL 17 there is no reason, and the only cause of
// wal_status=lost is removed WAL.
func invalidationCause(reason string) string {
	switch reason {
	case "", "wal_removed":
		cause := ": the server removed WAL it still needed (max_slot_wal_keep_size)"
		if reason != "" {
			cause = " (invalidation_reason=wal_removed)" + cause
		}
		return cause
	case "rows_removed":
		return " (invalidation_reason=rows_removed): the primary removed catalog rows the slot still needed (on a standby: hot_standby_feedback off, or no primary_slot_name)"
	case "wal_level_insufficient":
		return " (invalidation_reason=wal_level_insufficient): the primary's wal_level is below logical"
	case "idle_timeout":
		return " (invalidation_reason=idle_timeout): it was inactive longer than idle_replication_slot_timeout"
	default:
		return " (invalidation_reason=" + reason + ")"
	}
}

// createSlot runs CREATE_REPLICATION_SLOT … LOGICAL pgoutput on a
// replication connection (a permanent slot; no snapshot is exported).
// With failover the slot is a failover slot (PostgreSQL 17+; pglogrepl has
// no option for it, so the command is written out).
func (s *Source) createSlot(ctx context.Context, failover bool) error {
	conn, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var res pglogrepl.CreateReplicationSlotResult
	if failover {
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER true)", s.cfg.Slot)).ReadAll()
		res.ConsistentPoint = "(failover slot)"
	} else {
		res, err = pglogrepl.CreateReplicationSlot(ctx, conn, s.cfg.Slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create replication slot %s: %w", s.cfg.Slot, err)
	}
	s.log.Info("created replication slot", "slot", s.cfg.Slot, "consistent_point", res.ConsistentPoint, "failover", failover)
	return nil
}

// SlotStatus is the slot's state as pg_replication_slots reports it.
type SlotStatus struct {
	// ConfirmedFlushLSN is how far the server considers the slot consumed.
	ConfirmedFlushLSN string
	// RetainedBytes is the WAL the slot holds back:
	// pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn).
	RetainedBytes int64
	// SafeWALSize is how many more bytes of WAL can be written before the
	// slot is in danger of being invalidated (nil: max_slot_wal_keep_size
	// is unlimited).
	SafeWALSize *int64
	// WALStatus is reserved, extended, unreserved or lost.
	WALStatus string
	// InvalidationReason is why the server invalidated the slot
	// (PostgreSQL 17+: wal_removed, rows_removed, wal_level_insufficient,
	// and on 18 idle_timeout); "" for a valid slot and before 17.
	InvalidationReason string
	// MaxSlotWALKeepSize is the max_slot_wal_keep_size setting in bytes,
	// or -1 for unlimited.
	MaxSlotWALKeepSize int64
}

// SlotStatus reads the slot's state. It is safe to call concurrently with
// Stream.
func (s *Source) SlotStatus(ctx context.Context) (SlotStatus, error) {
	var st SlotStatus
	var confirmed, walStatus, reason *string
	var retained *int64
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT confirmed_flush_lsn::text,
				pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, safe_wal_size, wal_status, `+newSlotColumn("invalidation_reason")+`,
				(SELECT CASE WHEN setting::bigint < 0 THEN -1 ELSE setting::bigint * 1024 * 1024 END
					FROM pg_settings WHERE name = 'max_slot_wal_keep_size')
			FROM pg_replication_slots s WHERE slot_name = $1`, s.cfg.Slot).
			Scan(&confirmed, &retained, &st.SafeWALSize, &walStatus, &reason, &st.MaxSlotWALKeepSize)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("%w: slot %s does not exist", ErrSlotGone, s.cfg.Slot)
	}
	if err != nil {
		return st, fmt.Errorf("read status of replication slot %s: %w", s.cfg.Slot, err)
	}
	st.ConfirmedFlushLSN, st.WALStatus, st.InvalidationReason = deref(confirmed), deref(walStatus), deref(reason)
	if retained != nil {
		st.RetainedBytes = *retained
	}
	return st, nil
}

// slotWarning returns a warning when the slot is close to being
// invalidated, or "" when it is healthy.
func slotWarning(slot string, st SlotStatus) string {
	switch {
	case st.InvalidationReason != "" && st.InvalidationReason != "wal_removed":
		return fmt.Sprintf("replication slot %s has wal_status=%s%s; events can be lost", slot, st.WALStatus, invalidationCause(st.InvalidationReason))
	case st.WALStatus == "unreserved" || st.WALStatus == "lost":
		return fmt.Sprintf("replication slot %s has wal_status=%s: it retains %d bytes of WAL and the server is about to remove (or removed) WAL the slot needs; events can be lost — check why checkpoints do not advance", slot, st.WALStatus, st.RetainedBytes)
	case st.SafeWALSize != nil && st.MaxSlotWALKeepSize > 0 && *st.SafeWALSize < st.MaxSlotWALKeepSize/5:
		return fmt.Sprintf("replication slot %s retains %d bytes of WAL; only %d bytes (less than 20%% of max_slot_wal_keep_size) remain before the server invalidates it — check why checkpoints do not advance", slot, st.RetainedBytes, *st.SafeWALSize)
	}
	return ""
}
