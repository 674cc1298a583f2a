package mysql

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tributary-cdc/tributary/capture"
)

// buildQueries sets rt's query fragments (from, order, after, byKey) and
// key placeholders from its columns and key; cols are the columns as
// described, in table order.
func (rt *rowTable) buildQueries(cols []sqlColumn) error {
	t := rt.table
	db, table := t.Database, t.Name
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c.name)
	}
	rt.from = "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(db) + "." + quoteIdent(table)
	var keyCols, eq []string
	for _, k := range t.Key {
		p, err := keyParam(rt.decs[k], cols[k])
		if err != nil {
			return fmt.Errorf("table %s.%s: %w", db, table, err)
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
	return nil
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

// keyArgsOf is the query arguments of the row whose key is keyJSON.
func (rt *rowTable) keyArgsOf(keyJSON []byte) ([]any, error) {
	key, err := rt.parseKey(keyJSON)
	if err != nil {
		return nil, err
	}
	return rt.keyArgs(key)
}

// parseKey reads a key object as transform.EncodeKey writes it back into
// canonical values, in key order.
func (rt *rowTable) parseKey(keyJSON []byte) ([]any, error) {
	return capture.DecodeKey(rt.table, keyJSON, func(col int, raw json.RawMessage) (any, error) { return rt.decs[col].fromJSON(raw) })
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
