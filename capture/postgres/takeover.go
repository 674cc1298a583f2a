package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// activeWalsender is the pid of the walsender reading the slot, 0 if none.
func (s *Source) activeWalsender(ctx context.Context) (int, error) {
	var pid *int
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&pid)
	})
	if err != nil {
		return 0, fmt.Errorf("read the walsender of slot %s: %w", s.cfg.Slot, err)
	}
	if pid == nil {
		return 0, nil
	}
	return *pid, nil
}

// takeOverSlot makes the slot free for this source when a takeover policy
// is set (cluster mode): a previous owner's walsender still attached is
// waited for up to the policy's Wait, then ended with
// pg_terminate_backend (a role may end its own backends), once the
// policy allows it. It logs which it did. Without a policy it does
// nothing, and START_REPLICATION fails while the slot is active.
func (s *Source) takeOverSlot(ctx context.Context) error {
	p := s.cfg.Takeover
	if p.Allowed == nil {
		return nil
	}
	pid, err := s.activeWalsender(ctx)
	if err != nil || pid == 0 {
		return err
	}
	deadline := time.Now().Add(p.Wait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		now, err := s.activeWalsender(ctx)
		if err != nil {
			return err
		}
		if now != pid {
			s.log.Info("slot takeover: the previous owner's walsender went away by itself", "slot", s.cfg.Slot, "pid", pid, "waited", p.Wait-time.Until(deadline))
			return nil
		}
	}
	if err := p.Allowed(); err != nil {
		return fmt.Errorf("slot %s is in use by walsender pid %d and this process may not end it: %w", s.cfg.Slot, pid, err)
	}
	var ended bool
	err = s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ended)
	})
	if err != nil {
		return fmt.Errorf("slot %s: terminate the previous owner's walsender pid %d: %w", s.cfg.Slot, pid, err)
	}
	s.log.Warn("slot takeover: terminated the previous owner's walsender (pg_terminate_backend)", "slot", s.cfg.Slot, "pid", pid, "waited", p.Wait, "terminated", ended)
	// The slot is released once the backend has exited.
	for i := 0; i < 50; i++ {
		if now, err := s.activeWalsender(ctx); err != nil || now != pid {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
