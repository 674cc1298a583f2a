package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

var _ capture.RetentionReporter = (*Source)(nil)

// Retention is the WAL the slot retains and how much more may be written
// before max_slot_wal_keep_size lets the server invalidate it.
func (s *Source) Retention(ctx context.Context) (capture.Retention, error) {
	st, err := s.SlotStatus(ctx)
	if err != nil {
		return capture.Retention{}, err
	}
	r := capture.Retention{RetainedBytes: st.RetainedBytes, SafeBytes: -1, LimitBytes: -1}
	if st.SafeWALSize != nil && st.MaxSlotWALKeepSize >= 0 {
		r.SafeBytes, r.LimitBytes = max(*st.SafeWALSize, 0), st.MaxSlotWALKeepSize
	}
	return r, nil
}

// LagBytes is how much WAL the server has written past position.
func (s *Source) LagBytes(ctx context.Context, position string) (int64, error) {
	lsn, _, err := ParsePosition(position)
	if err != nil {
		return 0, fmt.Errorf("lag of %q: %w", position, err)
	}
	var lag int64
	err = s.withDB(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn), 0)::bigint", lsn.String()).Scan(&lag)
	})
	if err != nil {
		return 0, fmt.Errorf("read WAL lag: %w", err)
	}
	return lag, nil
}
