package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
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

	mu     sync.Mutex
	tables map[string]*rowTable
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
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	return &Reader{
		name: name, cfg: cfg, db: db,
		filter: filter{include: cfg.Include, exclude: cfg.Exclude},
		tables: make(map[string]*rowTable),
	}, nil
}

// NewReader returns a Reader for the source's server and configuration.
func (s *Source) NewReader() (*Reader, error) { return NewReader(s.name, s.cfg) }

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
	if limit <= 0 {
		return nil, nil, fmt.Errorf("read %s.%s: limit must be positive", db, table)
	}
	rt, err := r.rowTable(ctx, db, table)
	if err != nil {
		return nil, nil, err
	}
	query := rt.from + rt.order + " LIMIT ?"
	var args []any
	if after != nil {
		key, err := rt.keyArgs(after)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s.%s: %w", db, table, err)
		}
		for i := range key { // the arguments of rt.after
			args = append(args, key[:i+1]...)
		}
		query = rt.from + rt.after + rt.order + " LIMIT ?"
	}
	rows, err := r.query(ctx, rt, query, append(args, limit)...)
	if err != nil {
		return nil, nil, err
	}
	return rt.table, rows, nil
}

// ReadKey returns the row of db.table whose key is keyJSON, the key object
// as events carry it (transform.EncodeKey, e.g. {"id":42}), or a nil row
// when there is none.
func (r *Reader) ReadKey(ctx context.Context, db, table string, keyJSON []byte) (*capture.Table, []any, error) {
	rt, err := r.rowTable(ctx, db, table)
	if err != nil {
		return nil, nil, err
	}
	key, err := rt.parseKey(keyJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s.%s by key: %w", db, table, err)
	}
	args, err := rt.keyArgs(key)
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
	t := rt.table
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s.%s on %s: %w", t.Database, t.Name, r.cfg.Addr, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	raw := make([]any, n)
	ptrs := make([]any, n)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out [][]any
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s.%s: %w", t.Database, t.Name, err)
		}
		row := make([]any, n)
		for i, v := range raw {
			if row[i], err = rt.decs[i].fromSQL(v); err != nil {
				return nil, fmt.Errorf("read %s.%s column %s (%s): %w", t.Database, t.Name, t.Columns[i].Name, t.Columns[i].Type, err)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", t.Database, t.Name, err)
	}
	return out, nil
}

func (r *Reader) rowTable(ctx context.Context, db, table string) (*rowTable, error) {
	id := db + "." + table
	r.mu.Lock()
	rt := r.tables[id]
	r.mu.Unlock()
	if rt != nil {
		return rt, nil
	}
	rt, err := r.describe(ctx, db, table)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.tables[id] = rt
	r.mu.Unlock()
	return rt, nil
}

const columnsQuery = `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME,
 NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH
 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`

// sqlColumn is one row of columnsQuery.
type sqlColumn struct {
	name, dataType, columnType string
	charset                    sql.NullString
	precision, scale, fsp      sql.NullInt64
	octets                     sql.NullInt64
}

// describe reads db.table's columns, JSON columns and key.
func (r *Reader) describe(ctx context.Context, db, table string) (*rowTable, error) {
	rows, err := r.db.QueryContext(ctx, columnsQuery, db, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s on %s: %w", db, table, r.cfg.Addr, err)
	}
	var cols []sqlColumn
	for rows.Next() {
		var c sqlColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.charset, &c.precision, &c.scale, &c.fsp, &c.octets); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of %s.%s: %w", db, table, err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", db, table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s not found on %s (or user %s cannot see it)", db, table, r.cfg.Addr, r.cfg.User)
	}
	jsonCols, err := r.jsonColumns(ctx, db, table)
	if err != nil {
		return nil, err
	}

	t := &capture.Table{Database: db, Name: table, Columns: make([]capture.Column, len(cols))}
	rt := &rowTable{table: t, decs: make([]decoder, len(cols))}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		d, typeName, err := sqlDecoder(c, jsonCols[c.name])
		if err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", db, table, c.name, err)
		}
		t.Columns[i] = capture.Column{Name: c.name, Type: typeName}
		rt.decs[i] = d
		quoted[i] = quoteIdent(c.name)
	}
	if t.Key, err = r.keyColumns(ctx, db, table, cols); err != nil {
		return nil, err
	}
	rt.from = "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(db) + "." + quoteIdent(table)
	var keyCols, eq []string
	for _, k := range t.Key {
		p, err := keyParam(rt.decs[k], cols[k])
		if err != nil {
			return nil, fmt.Errorf("table %s.%s: %w", db, table, err)
		}
		rt.params = append(rt.params, p)
		keyCols = append(keyCols, quoted[k])
		eq = append(eq, quoted[k]+" = "+p)
	}
	rt.order = " ORDER BY " + strings.Join(keyCols, ", ")
	// (k1,k2) > (?,?) spelled out as k1 > ? OR (k1 = ? AND k2 > ?): MariaDB
	// 10.11 does not turn a row comparison into an index range and would
	// scan the index from its start for every chunk.
	var ors []string
	for i := range keyCols {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, keyCols[j]+" = "+rt.params[j])
		}
		ands = append(ands, keyCols[i]+" > "+rt.params[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	rt.after = " WHERE " + strings.Join(ors, " OR ")
	rt.byKey = " WHERE " + strings.Join(eq, " AND ")
	return rt, nil
}

// jsonColumns finds MariaDB's JSON columns the way the binlog path does
// (a json_valid check constraint on a LONGTEXT column).
func (r *Reader) jsonColumns(ctx context.Context, db, table string) (map[string]bool, error) {
	cols := map[string]bool{}
	if r.cfg.Flavor != FlavorMariaDB {
		return cols, nil
	}
	rows, err := r.db.QueryContext(ctx,
		`SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		 WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json_valid(%'`, db, table)
	if err != nil {
		return nil, fmt.Errorf("look up JSON columns of %s.%s on %s: %w", db, table, r.cfg.Addr, err)
	}
	defer rows.Close()
	for rows.Next() {
		var clause string
		if err := rows.Scan(&clause); err != nil {
			return nil, fmt.Errorf("look up JSON columns of %s.%s: %w", db, table, err)
		}
		if c, ok := jsonValidColumn(clause); ok {
			cols[c] = true
		}
	}
	return cols, rows.Err()
}

// keyColumns returns the indexes of the primary key columns in key order,
// or of the configured key_columns when there is no primary key.
func (r *Reader) keyColumns(ctx context.Context, db, table string, cols []sqlColumn) ([]int, error) {
	rows, err := r.db.QueryContext(ctx,
		`SELECT COLUMN_NAME FROM information_schema.STATISTICS
		 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, db, table)
	if err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s on %s: %w", db, table, r.cfg.Addr, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read primary key of %s.%s: %w", db, table, err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read primary key of %s.%s: %w", db, table, err)
	}
	configured := false
	if len(names) == 0 {
		names, configured = r.cfg.KeyColumns[db+"."+table], true
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("table %s.%s has no primary key; configure key columns in sources[%s].key_columns", db, table, r.name)
	}
	key := make([]int, 0, len(names))
	for _, n := range names {
		idx := -1
		for i, c := range cols {
			if strings.EqualFold(c.name, n) {
				idx = i
				break
			}
		}
		if idx < 0 {
			if configured {
				return nil, fmt.Errorf("key_columns[%s.%s] names column %q, which the table does not have", db, table, n)
			}
			return nil, fmt.Errorf("table %s.%s: primary key column %q not among its columns", db, table, n)
		}
		key = append(key, idx)
	}
	return key, nil
}

// sqlDecoder picks the conversion of a column from information_schema, and
// names its type as columnDecoder does for the binlog's table map.
func sqlDecoder(c sqlColumn, isJSON bool) (decoder, string, error) {
	unsigned := strings.Contains(strings.ToLower(c.columnType), "unsigned")
	intType := func(name string, width int) (decoder, string, error) {
		if unsigned {
			return decoder{kind: kindUint, width: width}, name + " unsigned", nil
		}
		return decoder{kind: kindInt}, name, nil
	}
	fsp := int(c.fsp.Int64)
	withFsp := func(name string) string {
		if fsp == 0 {
			return name
		}
		return name + "(" + strconv.Itoa(fsp) + ")"
	}
	binaryCharset := !c.charset.Valid || c.charset.String == "binary"
	switch dt := strings.ToLower(c.dataType); dt {
	case "tinyint":
		return intType("tinyint", 8)
	case "smallint":
		return intType("smallint", 16)
	case "mediumint":
		return intType("mediumint", 24)
	case "int", "integer":
		return intType("int", 32)
	case "bigint":
		return intType("bigint", 64)
	case "decimal", "numeric":
		name := fmt.Sprintf("decimal(%d,%d)", c.precision.Int64, c.scale.Int64)
		if unsigned {
			name += " unsigned"
		}
		return decoder{kind: kindDecimal, scale: int(c.scale.Int64)}, name, nil
	case "float":
		return decoder{kind: kindFloat}, "float", nil
	case "double", "real", "double precision":
		return decoder{kind: kindDouble}, "double", nil
	case "bit":
		return decoder{kind: kindBit}, fmt.Sprintf("bit(%d)", c.precision.Int64), nil
	case "year":
		return decoder{kind: kindYear}, "year", nil
	case "date":
		return decoder{kind: kindDate}, "date", nil
	case "time":
		return decoder{kind: kindTime, scale: fsp}, withFsp("time"), nil
	case "datetime":
		return decoder{kind: kindDatetime, scale: fsp}, withFsp("datetime"), nil
	case "timestamp":
		return decoder{kind: kindTimestamp, scale: fsp}, withFsp("timestamp"), nil
	case "char":
		if binaryCharset {
			return decoder{kind: kindBytes, padTo: int(c.octets.Int64)}, fmt.Sprintf("binary(%d)", c.octets.Int64), nil
		}
		return decoder{kind: kindString}, "char", nil
	case "binary":
		return decoder{kind: kindBytes, padTo: int(c.octets.Int64)}, fmt.Sprintf("binary(%d)", c.octets.Int64), nil
	case "varchar":
		if binaryCharset {
			return decoder{kind: kindBytes}, "varbinary", nil
		}
		return decoder{kind: kindString}, "varchar", nil
	case "varbinary":
		return decoder{kind: kindBytes}, "varbinary", nil
	case "tinytext", "text", "mediumtext", "longtext":
		if isJSON {
			return decoder{kind: kindJSON}, "json", nil
		}
		return decoder{kind: kindString}, dt, nil
	case "tinyblob", "blob", "mediumblob", "longblob":
		return decoder{kind: kindBytes}, dt, nil
	case "json":
		return decoder{kind: kindJSON}, "json", nil
	case "enum", "set":
		labels, err := parseLabels(c.columnType)
		if err != nil {
			return decoder{}, "", err
		}
		if dt == "enum" {
			return decoder{kind: kindEnum, labels: labels}, "enum", nil
		}
		return decoder{kind: kindSet, labels: labels}, "set", nil
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return decoder{kind: kindBytes}, "geometry", nil
	}
	return decoder{}, "", fmt.Errorf("unsupported column type %s for table reads", c.columnType)
}

// parseLabels reads the labels of an ENUM or SET COLUMN_TYPE such as
// "enum('a','b')"; a quote inside a label is doubled.
func parseLabels(columnType string) ([]string, error) {
	open, end := strings.IndexByte(columnType, '('), strings.LastIndexByte(columnType, ')')
	if open < 0 || end < open {
		return nil, fmt.Errorf("cannot read labels of %s", columnType)
	}
	s := columnType[open+1 : end]
	labels := []string{}
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, fmt.Errorf("cannot read labels of %s", columnType)
		}
		var b strings.Builder
		i := 1
		for ; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("cannot read labels of %s", columnType)
		}
		labels = append(labels, b.String())
		s = strings.TrimPrefix(s[i+1:], ",")
	}
	return labels, nil
}

// fromSQL converts a value as go-sql-driver returns it from the binary
// protocol (int64, float32, float64, []byte; uint64 above MaxInt64 as
// digits) to the canonical value convert gives for the binlog's value.
func (d decoder) fromSQL(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, isBytes := v.([]byte)
	switch d.kind {
	case kindInt, kindYear:
		if x, ok := v.(int64); ok {
			return x, nil
		}
	case kindUint:
		switch x := v.(type) {
		case int64:
			return uint64(x), nil
		case []byte:
			return strconv.ParseUint(string(x), 10, 64)
		}
	case kindFloat:
		if x, ok := v.(float32); ok {
			return x, nil
		}
	case kindDouble:
		if x, ok := v.(float64); ok {
			return x, nil
		}
	case kindBit:
		if isBytes && len(b) <= 8 {
			var buf [8]byte
			copy(buf[8-len(b):], b)
			return binary.BigEndian.Uint64(buf[:]), nil
		}
	case kindDecimal, kindDate, kindDatetime, kindString, kindEnum:
		if isBytes {
			return string(b), nil
		}
	case kindTime:
		if isBytes {
			return fixFraction(string(b), d.scale), nil
		}
	case kindTimestamp:
		if isBytes {
			return timestampUTC(string(b)), nil
		}
	case kindBytes:
		if isBytes {
			out := append([]byte{}, b...) // never nil: nil []byte is not ""
			if len(out) < d.padTo {
				out = append(out, make([]byte, d.padTo-len(out))...)
			}
			return out, nil
		}
	case kindJSON:
		if isBytes {
			if len(b) == 0 {
				return json.RawMessage("null"), nil
			}
			return json.RawMessage(b), nil
		}
	case kindSet:
		if isBytes {
			if len(b) == 0 {
				return []string{}, nil
			}
			return strings.Split(string(b), ","), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T from the server for this column", v)
}

// keyParam is the placeholder expression for a key column's value. DECIMAL
// values are passed as exact strings and cast, since comparing a DECIMAL
// column with a string would compare as DOUBLE.
func keyParam(d decoder, c sqlColumn) (string, error) {
	switch d.kind {
	case kindDecimal:
		return fmt.Sprintf("CAST(? AS DECIMAL(%d,%d))", c.precision.Int64, c.scale.Int64), nil
	case kindJSON:
		return "", fmt.Errorf("key column %s is JSON; cannot read in key order", c.name)
	}
	return "?", nil
}

// keyArgs turns canonical key values into query arguments. ENUM and SET
// are passed as their numbers: the server sorts them by number, and a
// comparison with a string would order them by label instead.
func (rt *rowTable) keyArgs(key []any) ([]any, error) {
	t := rt.table
	if len(key) != len(t.Key) {
		return nil, fmt.Errorf("%d key values for %d key columns", len(key), len(t.Key))
	}
	args := make([]any, len(key))
	for j, v := range key {
		col := t.Key[j]
		d, name := rt.decs[col], t.Columns[col].Name
		if v == nil {
			return nil, fmt.Errorf("key column %s is NULL; key columns must be NOT NULL", name)
		}
		switch d.kind {
		case kindTimestamp:
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("key column %s: want a string, got %T", name, v)
			}
			args[j] = strings.TrimSuffix(strings.Replace(s, "T", " ", 1), "Z")
		case kindEnum:
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("key column %s: want a label, got %T", name, v)
			}
			idx := 0
			for i, l := range d.labels {
				if l == s {
					idx = i + 1
					break
				}
			}
			if idx == 0 && s != "" {
				return nil, fmt.Errorf("key column %s: not one of the enum's labels", name)
			}
			args[j] = int64(idx)
		case kindSet:
			labels, ok := v.([]string)
			if !ok {
				return nil, fmt.Errorf("key column %s: want labels, got %T", name, v)
			}
			var mask uint64
			for _, s := range labels {
				i := indexOf(d.labels, s)
				if i < 0 {
					return nil, fmt.Errorf("key column %s: not one of the set's labels", name)
				}
				mask |= 1 << i
			}
			args[j] = mask
		default:
			args[j] = v
		}
	}
	return args, nil
}

func indexOf(labels []string, s string) int {
	for i, l := range labels {
		if l == s {
			return i
		}
	}
	return -1
}

// parseKey reads a key object as transform.EncodeKey writes it back into
// canonical values, in key order.
func (rt *rowTable) parseKey(keyJSON []byte) ([]any, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(keyJSON))
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("key is not a JSON object: %w", err)
	}
	t := rt.table
	out := make([]any, len(t.Key))
	for j, col := range t.Key {
		name := t.Columns[col].Name
		raw, ok := obj[name]
		if !ok {
			return nil, fmt.Errorf("key has no column %s", name)
		}
		v, err := rt.decs[col].fromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", name, err)
		}
		out[j] = v
	}
	return out, nil
}

// fromJSON is the inverse of the JSON encoding (transform) for the kinds a
// key can have.
func (d decoder) fromJSON(raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	var labels []string
	switch d.kind {
	case kindInt, kindYear:
		return strconv.ParseInt(string(raw), 10, 64)
	case kindUint, kindBit:
		return strconv.ParseUint(string(raw), 10, 64)
	case kindFloat, kindDouble:
		bits := 64
		if d.kind == kindFloat {
			bits = 32
		}
		var f float64
		if err := json.Unmarshal(raw, &s); err == nil {
			switch s {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return nil, fmt.Errorf("not a number")
			}
		} else {
			var err error
			if f, err = strconv.ParseFloat(string(raw), bits); err != nil {
				return nil, err
			}
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case kindSet:
		if err := json.Unmarshal(raw, &labels); err != nil {
			return nil, err
		}
		return labels, nil
	case kindJSON:
		return nil, errors.New("JSON key columns are not supported")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if d.kind == kindBytes {
		return base64.StdEncoding.DecodeString(s)
	}
	return s, nil
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
