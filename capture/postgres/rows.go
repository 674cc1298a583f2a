package postgres

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

// Reader reads captured tables with plain SELECTs, in key order and in
// chunks, and returns every row as the same canonical values the WAL path
// produces for it: a row read here and the After image of the pgoutput
// change that wrote it are reflect.DeepEqual (NaN aside). `tributary verify`
// relies on that.
//
// It needs SELECT on the tables (and the catalog). Its connection has the
// runtime parameters of the replication connection (TimeZone=UTC,
// DateStyle=ISO, IntervalStyle=iso_8601, extra_float_digits=3,
// bytea_output=hex; see connString), and it asks for every value in text
// format, which is the type's output function — exactly the text pgoutput
// sends — and decodes it with the same pgType decoder. (A `::text` cast is
// not used: for bool and char(n), among others, the cast differs from the
// output function: 'true' for 't', trailing blanks stripped.)
//
// A Reader is safe for concurrent use; its queries share one connection.
// Table definitions are read once per table and cached.
type Reader struct {
	s *Source

	typesMu sync.Mutex
	types   typeResolver

	tables capture.TableMemo[*rowTable]
}

// rowTable is a table as the Reader reads it.
type rowTable struct {
	table *capture.Table
	types []*pgType
	// from is "SELECT <columns> FROM schema.table"; order " ORDER BY <key>";
	// after the WHERE of chunks after the first, byKey of ReadKey.
	from, order, after, byKey string
}

// NewReader returns a Reader for source name (used in messages and the
// application_name) with configuration cfg (defaults are applied). It does
// not connect until the first query; with failover_addrs it connects to
// the first of addr and failover_addrs that is not in recovery.
func NewReader(name string, cfg Config) (*Reader, error) {
	s, err := New(name, cfg, nil)
	if err != nil {
		return nil, err
	}
	s.readsPrimary = true
	return newReader(s), nil
}

// NewReader returns a Reader for the source's server and configuration,
// with its own connection. It reads the server in use, which after a
// failover is a promoted standby, not addr.
func (s *Source) NewReader() (*Reader, error) {
	r, err := NewReader(s.name, s.cfg)
	if err != nil {
		return nil, err
	}
	if a := s.active.Load(); a != nil {
		r.s.active.Store(a)
	}
	return r, nil
}

func newReader(s *Source) *Reader {
	r := &Reader{s: s}
	r.types = typeResolver{lookup: s.lookupType}
	return r
}

// Close releases the Reader's connection.
func (r *Reader) Close() error { return r.s.Close() }

// Captured reports whether the source's include/exclude select
// schema.table.
func (r *Reader) Captured(schema, table string) bool { return r.s.filter.match(schema, table) }

// Tables lists the tables the source captures as {schema, table}, sorted:
// the tables of the publication when it exists, else the database's tables,
// with include/exclude applied either way.
func (r *Reader) Tables(ctx context.Context) ([][2]string, error) {
	var exists bool
	err := r.s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, r.s.cfg.Publication).Scan(&exists)
	})
	if err != nil {
		return nil, fmt.Errorf("read publication %s on %s: %w", r.s.cfg.Publication, r.s.addr(), err)
	}
	pub := ""
	if exists {
		pub = r.s.cfg.Publication
	}
	ids, err := r.s.tableIdentities(ctx, pub)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(ids))
	for _, t := range ids {
		out = append(out, [2]string{t.Schema, t.Name})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out, nil
}

// ApproxRows is the planner's estimate of the table's row count
// (pg_class.reltuples; 0 for a table never vacuumed or analyzed).
func (r *Reader) ApproxRows(ctx context.Context, schema, table string) (int64, error) {
	var n int64
	err := r.s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT GREATEST(c.reltuples, 0)::int8 FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, schema, table).Scan(&n)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("estimate rows of %s.%s: %w", schema, table, err)
	}
	return n, nil
}

// Table describes schema.table as ReadChunk returns its rows.
func (r *Reader) Table(ctx context.Context, schema, table string) (*capture.Table, error) {
	rt, err := r.rowTable(ctx, schema, table)
	if err != nil {
		return nil, err
	}
	return rt.table, nil
}

// ReadChunk returns up to limit rows of schema.table in key order, starting
// after the row whose key values are after (nil: from the first row). after
// holds canonical values in key order (row[i] for i in Table.Key). Fewer
// than limit rows means the end of the table.
//
// Each chunk is its own query; the key must be unique and NOT NULL
// (primary keys are; configured key_columns must be).
func (r *Reader) ReadChunk(ctx context.Context, schema, table string, after []any, limit int) (*capture.Table, [][]any, error) {
	if limit <= 0 {
		return nil, nil, fmt.Errorf("read %s.%s: limit must be positive", schema, table)
	}
	rt, err := r.rowTable(ctx, schema, table)
	if err != nil {
		return nil, nil, err
	}
	query, args, err := rt.chunkQuery(after, limit)
	if err != nil {
		return nil, nil, err
	}
	rows, err := r.query(ctx, rt, query, args)
	if err != nil {
		return nil, nil, err
	}
	return rt.table, rows, nil
}

// chunkQuery is the SELECT of up to limit rows after key after.
func (rt *rowTable) chunkQuery(after []any, limit int) (string, [][]byte, error) {
	query := rt.from
	var args [][]byte
	if after != nil {
		var err error
		if args, err = rt.keyArgs(after); err != nil {
			return "", nil, fmt.Errorf("read %s.%s: %w", rt.table.Database, rt.table.Name, err)
		}
		query += rt.after
	}
	return query + rt.order + " LIMIT " + strconv.Itoa(limit), args, nil
}

// ReadKey returns the row of schema.table whose key is keyJSON, the key
// object as events carry it (transform.EncodeKey, e.g. {"id":42}), or a nil
// row when there is none.
func (r *Reader) ReadKey(ctx context.Context, schema, table string, keyJSON []byte) (*capture.Table, []any, error) {
	rt, err := r.rowTable(ctx, schema, table)
	if err != nil {
		return nil, nil, err
	}
	args, err := rt.keyArgsOf(keyJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s.%s by key: %w", schema, table, err)
	}
	rows, err := r.query(ctx, rt, rt.from+rt.byKey+" LIMIT 1", args)
	if err != nil || len(rows) == 0 {
		return rt.table, nil, err
	}
	return rt.table, rows[0], nil
}

// query runs query with text arguments and text results and decodes each
// value with its column's pgType (NULL is nil).
func (r *Reader) query(ctx context.Context, rt *rowTable, query string, args [][]byte) ([][]any, error) {
	var out [][]any
	err := r.s.withDB(ctx, func(db *pgx.Conn) error {
		var err error
		out, _, err = queryOn(ctx, db, rt, query, args, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s.%s on %s: %w", rt.table.Database, rt.table.Name, r.s.addr(), err)
	}
	return out, nil
}

// queryOn is query on a connection the caller holds. With maxBytes > 0 it
// stops keeping rows once their values add up to maxBytes (at least one row
// is kept) and reports cut: rows are in key order, so what was kept is
// still a chunk, ending at its last row.
func queryOn(ctx context.Context, db *pgx.Conn, rt *rowTable, query string, args [][]byte, maxBytes int) (rows [][]any, cut bool, err error) {
	t := rt.table
	var out [][]any
	size := 0
	// Parameter types unknown (0): the query casts each one. No result
	// formats: every column in text format, the output function's text.
	rr := db.PgConn().ExecParams(ctx, query, args, make([]uint32, len(args)), nil, nil)
	var decErr error
	for rr.NextRow() {
		if decErr != nil || cut {
			continue // Close below reads (and drops) the rest
		}
		vals := rr.Values()
		if len(vals) != len(rt.types) {
			decErr = fmt.Errorf("%d columns returned, want %d", len(vals), len(rt.types))
			continue
		}
		row := make([]any, len(vals))
		for i, v := range vals {
			if v == nil {
				continue
			}
			// The buffer is reused for the next row; some kinds keep it.
			d, err := rt.types[i].decode(bytes.Clone(v))
			if err != nil {
				decErr = fmt.Errorf("column %s (%s): %w", t.Columns[i].Name, t.Columns[i].Type, err)
				break
			}
			row[i] = d
			size += len(v)
		}
		out = append(out, row)
		cut = maxBytes > 0 && size >= maxBytes
	}
	if _, err := rr.Close(); err != nil {
		return nil, false, err
	}
	return out, cut, decErr
}

func (r *Reader) rowTable(ctx context.Context, schema, table string) (*rowTable, error) {
	return r.tables.Get(ctx, schema, table, r.describe)
}

// describe reads the table's columns (attnum order, without dropped and
// generated columns, like pgoutput's relation message), their types and the
// key, and builds the queries.
func (r *Reader) describe(ctx context.Context, schema, table string) (*rowTable, error) {
	type column struct {
		name    string
		typ     uint32
		sqlType string // format_type, for casts
	}
	var relid uint32
	var cols []column
	err := r.s.withDB(ctx, func(db *pgx.Conn) error {
		rows, err := db.Query(ctx, `SELECT c.oid, a.attname, a.atttypid, format_type(a.atttypid, NULL)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid
			WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
				AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
			ORDER BY a.attnum`, schema, table)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c column
			if err := rows.Scan(&relid, &c.name, &c.typ, &c.sqlType); err != nil {
				return err
			}
			cols = append(cols, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s.%s on %s: %w", schema, table, r.s.addr(), err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s does not exist in database %s (or has no columns)", schema, table, r.s.cfg.Database)
	}
	rt := &rowTable{table: &capture.Table{Database: schema, Name: table}, types: make([]*pgType, len(cols))}
	r.typesMu.Lock()
	for i, c := range cols {
		t, err := r.types.resolve(ctx, c.typ)
		if err != nil {
			r.typesMu.Unlock()
			return nil, fmt.Errorf("column %s.%s.%s: %w", schema, table, c.name, err)
		}
		rt.types[i] = t
		rt.table.Columns = append(rt.table.Columns, capture.Column{Name: c.name, Type: t.name})
	}
	r.typesMu.Unlock()

	keyNames, err := r.s.indexKey(ctx, relid)
	if err != nil {
		return nil, err
	}
	qualified := capture.TableID{Schema: schema, Name: table}.String()
	if len(keyNames) == 0 {
		keyNames = r.s.cfg.KeyColumns[qualified]
	}
	if len(keyNames) == 0 {
		return nil, fmt.Errorf("table %s has no primary key, replica identity index or key_columns[%s]: cannot read it in key order", qualified, qualified)
	}
	for _, name := range keyNames {
		i := slices.IndexFunc(cols, func(c column) bool { return c.name == name })
		if i < 0 {
			return nil, fmt.Errorf("key column %s of table %s does not exist (check key_columns[%s])", name, qualified, qualified)
		}
		if k := rt.types[i].kind; k == kindArray || k == kindJSON {
			return nil, fmt.Errorf("key column %s of table %s is %s: cannot read in key order", name, qualified, rt.types[i].name)
		}
		rt.table.Key = append(rt.table.Key, i)
	}

	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c.name)
	}
	rt.from = "SELECT " + strings.Join(quoted, ", ") + " FROM " + pgx.Identifier{schema, table}.Sanitize()
	var keyCols, params, eq []string
	for j, i := range rt.table.Key {
		p := fmt.Sprintf("$%d::%s", j+1, cols[i].sqlType)
		keyCols = append(keyCols, quoted[i])
		params = append(params, p)
		eq = append(eq, quoted[i]+" = "+p)
	}
	rt.order = " ORDER BY " + strings.Join(keyCols, ", ")
	rt.after = " WHERE (" + strings.Join(keyCols, ", ") + ") > (" + strings.Join(params, ", ") + ")"
	if len(keyCols) == 1 {
		rt.after = " WHERE " + keyCols[0] + " > " + params[0]
	}
	rt.byKey = " WHERE " + strings.Join(eq, " AND ")
	return rt, nil
}

// keyArgs turns canonical key values into text query arguments, the input
// form of each key column's type (the query casts them).
func (rt *rowTable) keyArgs(key []any) ([][]byte, error) {
	t := rt.table
	if len(key) != len(t.Key) {
		return nil, fmt.Errorf("%d key values for %d key columns", len(key), len(t.Key))
	}
	args := make([][]byte, len(key))
	for j, v := range key {
		name := t.Columns[t.Key[j]].Name
		s, err := keyText(v)
		if err != nil {
			return nil, fmt.Errorf("key column %s: %w", name, err)
		}
		args[j] = []byte(s)
	}
	return args, nil
}

// keyText is the text input form of a canonical value (the inverse of
// pgType.decode for the kinds a key can have).
func keyText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", errors.New("NULL; key columns must be NOT NULL")
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float32:
		return floatText(float64(v), 32), nil
	case float64:
		return floatText(v, 64), nil
	case bool:
		if v {
			return "t", nil
		}
		return "f", nil
	case string:
		return v, nil
	case []byte:
		return `\x` + hex.EncodeToString(v), nil
	}
	return "", fmt.Errorf("unsupported key value %T", v)
}

func floatText(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// keyArgsOf is the query arguments of the row whose key is keyJSON.
func (rt *rowTable) keyArgsOf(keyJSON []byte) ([][]byte, error) {
	key, err := rt.parseKey(keyJSON)
	if err != nil {
		return nil, err
	}
	return rt.keyArgs(key)
}

// parseKey reads a key object as transform.EncodeKey writes it back into
// canonical values, in key order.
func (rt *rowTable) parseKey(keyJSON []byte) ([]any, error) {
	return capture.DecodeKey(rt.table, keyJSON, func(col int, raw json.RawMessage) (any, error) { return fromJSON(rt.types[col], raw) })
}

// fromJSON is the inverse of the JSON encoding (transform) of a canonical
// value of type t, for the kinds a key can have.
func fromJSON(t *pgType, raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	switch t.kind {
	case kindInt:
		return strconv.ParseInt(string(raw), 10, 64)
	case kindFloat4, kindFloat8:
		bits := 64
		if t.kind == kindFloat4 {
			bits = 32
		}
		var f float64
		if err := json.Unmarshal(raw, &s); err == nil {
			if f, err = parseFloat(s, bits); err != nil || (!math.IsNaN(f) && !math.IsInf(f, 0)) {
				return nil, errors.New("not a number")
			}
		} else if f, err = strconv.ParseFloat(string(raw), bits); err != nil {
			return nil, err
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		return b, nil
	case kindJSON, kindArray:
		return nil, fmt.Errorf("%s key columns are not supported", t.name)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if t.kind == kindBytea {
		return base64.StdEncoding.DecodeString(s)
	}
	return s, nil
}
