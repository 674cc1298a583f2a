package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/capture"
)

// Reader reads captured tables with plain SELECTs, in key order and in
// chunks, and returns every row as the same canonical values the binlog
// path (values.go) produces for it: a row read here and the After image of
// the binlog event that wrote it are reflect.DeepEqual. Snapshots and
// `tributary verify` rely on that.
//
// It needs only SELECT. Queries go through prepared statements, so the
// server sends values in its binary protocol: integers, FLOAT and DOUBLE
// arrive as binary numbers (no text round trip that could lose a FLOAT's
// last bit), the rest as the server's exact text. The session time zone is
// UTC, so TIMESTAMP values come back as UTC instants, like the binlog's.
//
// Differences from the binlog path that remain: text in a character set
// other than utf8mb4/utf8mb3/ascii is converted to UTF-8 by the server here,
// while the binlog path hands over the stored bytes; and on MySQL (not
// MariaDB) a JSON column's text is the server's rendering, which may differ
// in spacing from go-mysql's rendering of the binary JSON in the binlog.
//
// A Reader is safe for concurrent use. Table definitions are read once per
// table and cached for the Reader's lifetime.
type Reader struct {
	name   string
	cfg    Config
	filter filter
	db     *sql.DB

	tables capture.TableMemo[*rowTable]
}

// rowTable is a table as the Reader reads it.
type rowTable struct {
	table  *capture.Table
	decs   []decoder
	params []string // per key column: the placeholder expression of its value
	// from is "SELECT <columns> FROM `db`.`t`"; order is " ORDER BY <key>".
	from, order string
	// after is the WHERE clause of the chunks after the first (its
	// arguments: k1; k1, k2; k1, k2, k3; ...); byKey of ReadKey.
	after, byKey string
}

// NewReader opens a connection pool for reading the tables of source name
// (used in messages). It does not connect until the first query.
func NewReader(name string, cfg Config) (*Reader, error) {
	cfg.Defaults()
	if cfg.Addr == "" || cfg.User == "" {
		return nil, fmt.Errorf("sources[%s]: addr and user are required to read tables", name)
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = cfg.User, cfg.Password, "tcp", cfg.Addr
	mc.Timeout, mc.ReadTimeout = 10*time.Second, cfg.ReadTimeout
	// TIMESTAMP values are sent in the session time zone; UTC makes them the
	// instants the binlog path formats in UTC.
	mc.Params = map[string]string{"time_zone": "'+00:00'"}
	if err := cfg.applyTLS(name, mc); err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	return &Reader{
		name: name, cfg: cfg, db: db,
		filter: filter{include: cfg.Include, exclude: cfg.Exclude},
	}, nil
}

// NewReader returns a Reader for the source's server and configuration.
// The server is the one the source uses now.
func (s *Source) NewReader() (*Reader, error) {
	cfg := s.cfg
	cfg.Addr = s.addr()
	return NewReader(s.name, cfg)
}

// Close releases the Reader's connections.
func (r *Reader) Close() error { return r.db.Close() }

// Tables lists the base tables the source captures (include/exclude
// applied), sorted by database and name.
func (r *Reader) Tables(ctx context.Context) ([][2]string, error) {
	all, err := tableNames(ctx, r.db, baseTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables on %s: %w", r.cfg.Addr, err)
	}
	var out [][2]string
	for _, n := range all {
		if r.filter.match(n[0], n[1]) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out, nil
}

// Captured reports whether the source's include/exclude select db.table.
func (r *Reader) Captured(db, table string) bool { return r.filter.match(db, table) }

// ApproxRows is the server's estimate of the table's row count
// (information_schema.TABLES.TABLE_ROWS; exact only for some engines).
func (r *Reader) ApproxRows(ctx context.Context, db, table string) (int64, error) {
	var n sql.NullInt64
	err := r.db.QueryRowContext(ctx,
		"SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, table).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("estimate rows of %s.%s: %w", db, table, err)
	}
	return n.Int64, nil
}

// Table describes db.table as ReadChunk returns its rows.
func (r *Reader) Table(ctx context.Context, db, table string) (*capture.Table, error) {
	rt, err := r.rowTable(ctx, db, table)
	if err != nil {
		return nil, err
	}
	return rt.table, nil
}

// ReadChunk returns up to limit rows of db.table in key order, starting
// after the row whose key values are after (nil: from the first row). after
// holds canonical values in key order, as taken from the last row of the
// previous chunk (row[i] for i in Table.Key). Fewer than limit rows means
// the end of the table.
//
// Each chunk is its own query, so rows written between chunks are seen or
// not depending on where they fall; the key must be unique and NOT NULL
// (primary keys are; configured key_columns must be).
func (r *Reader) ReadChunk(ctx context.Context, db, table string, after []any, limit int) (*capture.Table, [][]any, error) {
	t, rows, _, err := r.readChunk(ctx, db, table, after, limit, 0)
	return t, rows, err
}

// readChunk is ReadChunk keeping at most about maxBytes of values (0: no
// bound); cut reports that the chunk ended early, at its last row.
func (r *Reader) readChunk(ctx context.Context, db, table string, after []any, limit, maxBytes int) (_ *capture.Table, _ [][]any, cut bool, _ error) {
	if limit <= 0 {
		return nil, nil, false, fmt.Errorf("read %s.%s: limit must be positive", db, table)
	}
	rt, err := r.rowTable(ctx, db, table)
	if err != nil {
		return nil, nil, false, err
	}
	query := rt.from + rt.order + " LIMIT ?"
	var args []any
	if after != nil {
		key, err := rt.keyArgs(after)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read %s.%s: %w", db, table, err)
		}
		for i := range key { // the arguments of rt.after
			args = append(args, key[:i+1]...)
		}
		query = rt.from + rt.after + rt.order + " LIMIT ?"
	}
	rows, cut, err := r.queryBounded(ctx, rt, maxBytes, query, append(args, limit)...)
	if err != nil {
		return nil, nil, false, err
	}
	return rt.table, rows, cut, nil
}

// ReadKey returns the row of db.table whose key is keyJSON, the key object
// as events carry it (transform.EncodeKey, e.g. {"id":42}), or a nil row
// when there is none.
func (r *Reader) ReadKey(ctx context.Context, db, table string, keyJSON []byte) (*capture.Table, []any, error) {
	rt, err := r.rowTable(ctx, db, table)
	if err != nil {
		return nil, nil, err
	}
	args, err := rt.keyArgsOf(keyJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s.%s by key: %w", db, table, err)
	}
	rows, err := r.query(ctx, rt, rt.from+rt.byKey+" LIMIT 1", args...)
	if err != nil || len(rows) == 0 {
		return rt.table, nil, err
	}
	return rt.table, rows[0], nil
}

func (r *Reader) query(ctx context.Context, rt *rowTable, query string, args ...any) ([][]any, error) {
	out, _, err := r.queryBounded(ctx, rt, 0, query, args...)
	return out, err
}

// queryBounded is query, stopping once the values kept add up to maxBytes
// (at least one row is kept; 0: no bound) and reporting that it did.
func (r *Reader) queryBounded(ctx context.Context, rt *rowTable, maxBytes int, query string, args ...any) (_ [][]any, cut bool, _ error) {
	t := rt.table
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("read %s.%s on %s: %w", t.Database, t.Name, r.cfg.Addr, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	raw := make([]any, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out [][]any
	size := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, fmt.Errorf("read %s.%s: %w", t.Database, t.Name, err)
		}
		row := make([]any, n)
		for i, v := range raw {
			if b, ok := v.([]byte); ok {
				size += len(b)
			}
			if row[i], err = rt.decs[i].fromSQL(v); err != nil {
				return nil, false, fmt.Errorf("read %s.%s column %s (%s): %w", t.Database, t.Name, t.Columns[i].Name, t.Columns[i].Type, err)
			}
		}
		out = append(out, row)
		if maxBytes > 0 && size >= maxBytes {
			cut = true
			break // Close drains the rest of the result without keeping it
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read %s.%s: %w", t.Database, t.Name, err)
	}
	return out, cut, nil
}

func (r *Reader) rowTable(ctx context.Context, db, table string) (*rowTable, error) {
	return r.tables.Get(ctx, db, table, r.describe)
}
