package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// A source may list physical standbys of its server (failover_addrs).
// Each Stream connects to the first candidate that answers and is not in
// recovery, starting with the one used last. Reading from a promoted
// standby needs the slot there: PostgreSQL 17+ synchronises logical slots
// created with failover = true to standbys running with
// sync_replication_slots = on (and hot_standby_feedback = on, with a
// primary_slot_name), and synchronized_standby_slots on the primary keeps
// it from sending a change to Tributary before those standbys have it.

// failoverVersion is the first server_version_num with failover slots.
const failoverVersion = 170000

// probeTimeout bounds each address's connection while choosing a server.
const probeTimeout = 5 * time.Second

// addr is the address of the server in use.
func (s *Source) addr() string {
	if a := s.active.Load(); a != nil {
		return *a
	}
	return s.cfg.Addr
}

// candidates orders the addresses: the one used last, then addr and
// failover_addrs.
func (s *Source) candidates() []string {
	all := append([]string{s.cfg.Addr}, s.cfg.FailoverAddrs...)
	if a := s.active.Load(); a != nil {
		if i := slices.Index(all, *a); i > 0 {
			all = append([]string{*a}, slices.Delete(all, i, i+1)...)
		}
	}
	return all
}

// selectPrimary makes the first candidate that answers and is not in
// recovery the source's server (and its SQL connection the source's).
// Standbys are skipped: a synchronised slot cannot be read on a standby.
func (s *Source) selectPrimary(ctx context.Context) error {
	var errs []error
	for _, a := range s.candidates() {
		conn, inRecovery, err := s.probe(ctx, a)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("server of the source does not answer; trying the next", "addr", a, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
			continue
		}
		if inRecovery {
			conn.Close(context.Background())
			errs = append(errs, fmt.Errorf("%s: a standby (in recovery)", a))
			continue
		}
		if prev := s.addr(); prev != a {
			s.log.Warn("connected to another server of the source", "addr", a, "previous_addr", prev)
		}
		s.active.Store(&a)
		s.dbMu.Lock(context.Background()) //nolint:errcheck // never ends
		if s.db != nil {
			s.db.Close(context.Background())
		}
		s.db = conn
		s.dbMu.Unlock()
		return nil
	}
	return fmt.Errorf("no primary among sources[%s].addr and failover_addrs: %w", s.name, errors.Join(errs...))
}

// openDB opens the SQL connection. A table reader with failover_addrs
// (readsPrimary) connects to the first candidate not in recovery, as
// Stream does, so that after a failover it reads the promoted server, not
// a dead or demoted addr; otherwise it is the server in use.
func (s *Source) openDB(ctx context.Context) (*pgx.Conn, error) {
	if !s.readsPrimary || len(s.cfg.FailoverAddrs) == 0 {
		return s.connectPgx(ctx)
	}
	var errs []error
	for _, a := range s.candidates() {
		conn, inRecovery, err := s.probe(ctx, a)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
		case inRecovery:
			conn.Close(context.Background())
			errs = append(errs, fmt.Errorf("%s: a standby (in recovery)", a))
		default:
			s.active.Store(&a)
			return conn, nil
		}
	}
	return nil, fmt.Errorf("no primary among sources[%s].addr and failover_addrs: %w", s.name, errors.Join(errs...))
}

// probe connects to addr and asks whether it is in recovery.
func (s *Source) probe(ctx context.Context, addr string) (*pgx.Conn, bool, error) {
	cfg, err := s.pgxConfigFor(addr)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		conn.Close(context.Background())
		return nil, false, err
	}
	return conn, inRecovery, nil
}

// wantFailoverSlot says whether the slot must be a failover slot on a
// server of version (server_version_num): by default on 17+, never when
// failover_slot is false; failover_slot on or failover_addrs set on an
// older server is a preflight error.
func (c Config) wantFailoverSlot(prefix, addr string, version int) (bool, error) {
	key := prefix + ".failover_slot"
	requested := c.FailoverSlot != nil && *c.FailoverSlot
	if len(c.FailoverAddrs) > 0 {
		requested, key = true, prefix+".failover_addrs"
	}
	switch {
	case version >= failoverVersion:
		return c.FailoverSlot == nil || *c.FailoverSlot, nil
	case requested:
		return false, fmt.Errorf("%w: %s needs failover slots, which PostgreSQL has from version 17; the server at %s is version %d.%d — upgrade it, or remove %s (a promoted standby would have no copy of the slot)",
			ErrPreflight, key, addr, version/10000, version%10000, key)
	}
	return false, nil
}

// standbyView is what a standby says about its readiness to take over the
// slot.
type standbyView struct {
	Addr                              string
	InRecovery                        bool
	HotStandbyFeedback, SyncSlots     string
	SlotExists, SlotSynced, SlotValid bool
	// SlotTemporary: the copy is not persisted yet. The slot sync worker
	// keeps a new copy temporary until the primary's slot has passed the
	// standby's own restart_lsn and catalog_xmin; a promotion drops it.
	SlotTemporary bool
}

// failoverWarnings judges a failover-ready pair: the primary's
// synchronized_standby_slots and each standby's settings and copy of the
// slot. Each warning names the setting to change.
func failoverWarnings(slot, primaryAddr, synchronizedStandbySlots string, standbys []standbyView) []string {
	var w []string
	if synchronizedStandbySlots == "" {
		w = append(w, fmt.Sprintf("PostgreSQL at %s has synchronized_standby_slots empty: it may send Tributary changes its standbys have not received, and after a failover the promoted standby lacks them (and its slot copy is behind) — set synchronized_standby_slots to the standbys' physical slots (primary_slot_name)", primaryAddr))
	}
	for _, sb := range standbys {
		switch {
		case !sb.InRecovery:
			w = append(w, fmt.Sprintf("failover address %s is not a standby (not in recovery): it cannot hold a synchronised copy of slot %s", sb.Addr, slot))
			continue
		case sb.SyncSlots != "on":
			w = append(w, fmt.Sprintf("standby %s has sync_replication_slots=%s: it keeps no copy of slot %s, so after promoting it the slot is missing — set sync_replication_slots = on (and hot_standby_feedback = on) on the standby", sb.Addr, orUnset(sb.SyncSlots), slot))
		case sb.HotStandbyFeedback != "on":
			w = append(w, fmt.Sprintf("standby %s has hot_standby_feedback=%s: slot synchronisation needs it on — set hot_standby_feedback = on on the standby", sb.Addr, orUnset(sb.HotStandbyFeedback)))
		case !sb.SlotExists || !sb.SlotSynced:
			w = append(w, fmt.Sprintf("standby %s has no synchronised copy of slot %s yet (synced = false or missing): promoting it now would lose the slot — check sync_replication_slots and primary_conninfo's dbname there", sb.Addr, slot))
		case sb.SlotTemporary:
			w = append(w, fmt.Sprintf("standby %s's copy of slot %s is still temporary (not yet persisted: the slot on the primary has not passed the standby's restart_lsn and catalog_xmin; it does once Tributary confirms past a running-transactions record): promoting it now would lose the slot", sb.Addr, slot))
		case !sb.SlotValid:
			w = append(w, fmt.Sprintf("standby %s's copy of slot %s is invalidated: promoting it would lose the slot", sb.Addr, slot))
		}
	}
	return w
}

func orUnset(v string) string {
	if v == "" {
		return "<unset>"
	}
	return v
}

// checkFailoverReady logs failoverWarnings for the server in use and the
// other configured servers (best effort: an unreachable standby is only
// mentioned at debug level, as it may be the old primary).
func (s *Source) checkFailoverReady(ctx context.Context) {
	var sss string
	if err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, "SELECT current_setting('synchronized_standby_slots', true)").Scan(&sss)
	}); err != nil {
		s.log.Debug("failover readiness: cannot read synchronized_standby_slots", "err", err)
		return
	}
	var views []standbyView
	for _, a := range s.candidates() {
		if a == s.addr() {
			continue
		}
		conn, inRecovery, err := s.probe(ctx, a)
		if err != nil {
			s.log.Debug("failover readiness: server does not answer", "addr", a, "err", err)
			continue
		}
		v := standbyView{Addr: a, InRecovery: inRecovery}
		qctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err = conn.QueryRow(qctx, `SELECT current_setting('hot_standby_feedback'), current_setting('sync_replication_slots', true),
				EXISTS (SELECT 1 FROM pg_replication_slots s WHERE slot_name = $1),
				COALESCE((SELECT (to_jsonb(s)->>'synced')::bool FROM pg_replication_slots s WHERE slot_name = $1), false),
				COALESCE((SELECT wal_status <> 'lost' AND to_jsonb(s)->>'invalidation_reason' IS NULL FROM pg_replication_slots s WHERE slot_name = $1), false),
				COALESCE((SELECT temporary FROM pg_replication_slots s WHERE slot_name = $1), false)`,
			s.cfg.Slot).Scan(&v.HotStandbyFeedback, &v.SyncSlots, &v.SlotExists, &v.SlotSynced, &v.SlotValid, &v.SlotTemporary)
		cancel()
		conn.Close(context.Background())
		if err != nil {
			s.log.Debug("failover readiness: cannot read the standby's settings", "addr", a, "err", err)
			continue
		}
		views = append(views, v)
	}
	for _, w := range failoverWarnings(s.cfg.Slot, s.addr(), sss, views) {
		s.log.Warn(w)
	}
}
