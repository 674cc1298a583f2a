package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

// SlotWAL reads how much WAL the source's slot retains (the server's
// position minus the slot's restart_lsn) and max_slot_wal_keep_size, the
// limit past which the server invalidates the slot.
func (s *Source) SlotWAL(ctx context.Context) (capture.SlotWAL, error) {
	var retained sql.NullInt64
	var limit int64
	err := s.withDB(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `
			SELECT greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,
			       (SELECT CASE WHEN setting::bigint < 0 THEN -1 ELSE setting::bigint * 1024 * 1024 END
			          FROM pg_settings WHERE name = 'max_slot_wal_keep_size')
			FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&retained, &limit)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return capture.SlotWAL{}, fmt.Errorf("read slot %s: no such slot", s.cfg.Slot)
	case err != nil:
		return capture.SlotWAL{}, fmt.Errorf("read slot %s: %w", s.cfg.Slot, err)
	case !retained.Valid:
		return capture.SlotWAL{}, fmt.Errorf("read slot %s: it has no restart_lsn (invalidated)", s.cfg.Slot)
	}
	return capture.SlotWAL{RetainedBytes: retained.Int64, MaxBytes: limit}, nil
}
