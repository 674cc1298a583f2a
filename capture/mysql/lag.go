package mysql

import (
	"context"
	"database/sql"
	"fmt"
)

// LagBytes is how many binlog bytes the server has written past position:
// the rest of its file plus every later file (SHOW BINARY LOGS).
func (s *Source) LagBytes(ctx context.Context, position string) (int64, error) {
	p, err := ParsePosition(position)
	if err != nil {
		return 0, err
	}
	db, err := s.sqlDB()
	if err != nil {
		return 0, err
	}
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return 0, fmt.Errorf("read binlog sizes: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	var lag int64
	for rows.Next() {
		// Log_name, File_size and, on newer servers, Encrypted.
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("read binlog sizes: %w", err)
		}
		var size int64
		if _, err := fmt.Sscan(vals[1].String, &size); err != nil {
			return 0, fmt.Errorf("binlog size %q: %w", vals[1].String, err)
		}
		switch c := (Position{File: vals[0].String}).Compare(Position{File: p.File}); {
		case c == 0:
			lag += max(size-int64(p.Pos), 0)
		case c > 0:
			lag += size
		}
	}
	return lag, rows.Err()
}
