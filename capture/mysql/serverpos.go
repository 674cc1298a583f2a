package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// currentPosition is the server's binlog write position, read with
// SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+, where the old
// statement is gone).
func (s *Source) currentPosition(ctx context.Context, db *sql.DB) (Position, error) {
	p, err := showStatus(ctx, db, "SHOW MASTER STATUS")
	if err != nil {
		var err2 error
		if p, err2 = showStatus(ctx, db, "SHOW BINARY LOG STATUS"); err2 != nil {
			return Position{}, fmt.Errorf("read current binlog position of %s: %w", s.addr(), err)
		}
	}
	if p.File == "" {
		return Position{}, fmt.Errorf("read current binlog position of %s: the server reports no binlog file; is log_bin enabled?", s.addr())
	}
	return p, nil
}

func showStatus(ctx context.Context, db *sql.DB, query string) (Position, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return Position{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Position{}, err
	}
	if !rows.Next() {
		return Position{}, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return Position{}, err
	}
	var p Position
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "file":
			p.File = vals[i].String
		case "position":
			if _, err := fmt.Sscan(vals[i].String, &p.Pos); err != nil {
				return Position{}, fmt.Errorf("position %q: %w", vals[i].String, err)
			}
		case "executed_gtid_set": // MySQL only; MariaDB uses BINLOG_GTID_POS below
			p.GTIDSet = strings.ReplaceAll(vals[i].String, "\n", "")
		}
	}
	return p, rows.Err()
}

// startGTIDSet is the GTID set executed up to start: from the position
// string when it has one, otherwise asked from MariaDB (BINLOG_GTID_POS maps
// a file:pos to a GTID position exactly). Nil means unknown; positions are
// then formatted without a GTID set.
func (s *Source) startGTIDSet(ctx context.Context, db *sql.DB, start Position) (gmysql.GTIDSet, error) {
	text := start.GTIDSet
	if text == "" && s.cfg.Flavor == FlavorMariaDB {
		var v sql.NullString
		err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", start.File, start.Pos).Scan(&v)
		if err != nil || !v.Valid {
			// A purged file gives NULL here; the binlog dump reports that clearly.
			return nil, nil
		}
		text = v.String
	}
	if text == "" && s.cfg.Flavor == FlavorMySQL {
		return nil, nil
	}
	if s.cfg.Flavor == FlavorMySQL {
		gs, err := parseMySQLGTIDSet(text)
		if err != nil {
			return nil, fmt.Errorf("position %s: %w", start, err)
		}
		return gs, nil
	}
	gs, err := gmysql.ParseGTIDSet(string(s.cfg.Flavor), text)
	if err != nil {
		return nil, fmt.Errorf("position %s: GTID set %q: %w", start, text, err)
	}
	return gs, nil
}
