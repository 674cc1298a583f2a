package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
)

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
	for i, c := range cols {
		d, typeName, err := sqlDecoder(c, jsonCols[c.name])
		if err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", db, table, c.name, err)
		}
		t.Columns[i] = capture.Column{Name: c.name, Type: typeName}
		rt.decs[i] = d
	}
	if t.Key, err = r.keyColumns(ctx, db, table, cols); err != nil {
		return nil, err
	}
	if err := rt.buildQueries(cols); err != nil {
		return nil, err
	}
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
		names, configured = r.cfg.KeyColumns[capture.TableID{Schema: db, Name: table}.String()], true
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
			return decoder{kind: kindEnum, labels: labels}, labelledType("enum", labels), nil
		}
		return decoder{kind: kindSet, labels: labels}, labelledType("set", labels), nil
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return decoder{kind: kindBytes}, "geometry", nil
	}
	return decoder{}, "", fmt.Errorf("unsupported column type %s for table reads", c.columnType)
}

// labelledType is an ENUM or SET column's type name with its labels, as
// MySQL writes COLUMN_TYPE ("enum('a','b')", a quote doubled), so that the
// encoders can name them (Debezium's "allowed" parameter). Binlog and
// snapshot reads name a column alike.
func labelledType(kind string, labels []string) string {
	var b strings.Builder
	b.WriteString(kind)
	b.WriteByte('(')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(l, "'", "''"))
		b.WriteByte('\'')
	}
	b.WriteByte(')')
	return b.String()
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
