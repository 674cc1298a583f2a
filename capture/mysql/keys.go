package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
)

// Two plain queries, compared in Go: MariaDB evaluates a correlated
// subquery over information_schema wrongly (every table looked keyless).
const (
	baseTablesQuery = `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`
	primaryKeysQuery = `SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME FROM information_schema.STATISTICS WHERE INDEX_NAME = 'PRIMARY'`
)

func tableNames(ctx context.Context, db *sql.DB, query string) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var n [2]string
		if err := rows.Scan(&n[0], &n[1]); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// checkKeys refuses to start when a captured table has neither a primary
// key nor configured key columns: its events could not be keyed, so Kafka
// could not keep its changes in order. Tables created later are refused
// when their first row arrives.
func (s *Source) checkKeys(ctx context.Context, db *sql.DB) error {
	tables, err := tableNames(ctx, db, baseTablesQuery)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	withPK, err := tableNames(ctx, db, primaryKeysQuery)
	if err != nil {
		return fmt.Errorf("list primary keys: %w", err)
	}
	hasPK := make(map[[2]string]bool, len(withPK))
	for _, n := range withPK {
		hasPK[n] = true
	}
	var keyless []string
	for _, n := range tables {
		name := capture.TableID{Schema: n[0], Name: n[1]}.String()
		if _, ok := s.cfg.KeyColumns[name]; ok || hasPK[n] || !s.filter.match(n[0], n[1]) {
			continue
		}
		keyless = append(keyless, name)
	}
	if len(keyless) == 0 {
		return nil
	}
	sort.Strings(keyless)
	shown := keyless
	if len(shown) > 10 {
		shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(keyless)-10))
	}
	return fmt.Errorf("%w: captured tables without a primary key: %s; name their key in sources[%s].key_columns (e.g. %s: [col]) or leave them out with sources[%s].exclude",
		ErrPreflight, strings.Join(shown, ", "), s.name, keyless[0], s.name)
}
