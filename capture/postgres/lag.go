package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

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
