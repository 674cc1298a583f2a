package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

// relation is what a RelationMessage told about a table, with the decoders
// of its columns. pgoutput sends one before the first change of a table in
// each session and again after its definition changed.
type relation struct {
	captured bool // matched by include/exclude
	table    *capture.Table
	types    []*pgType
	identity []bool // column is part of the replica identity (key flag)
}

// newRelation builds the relation of m. The table's key is its replica
// identity index when it has one, else its primary key (from the catalog,
// in key order), else the configured key_columns.
func (st *streamState) newRelation(ctx context.Context, m *pglogrepl.RelationMessage) (*relation, error) {
	if !st.s.filter.match(m.Namespace, m.RelationName) {
		return &relation{}, nil
	}
	r := &relation{
		captured: true,
		table:    &capture.Table{Database: m.Namespace, Name: m.RelationName},
		types:    make([]*pgType, len(m.Columns)),
		identity: make([]bool, len(m.Columns)),
	}
	for i, c := range m.Columns {
		t, err := st.types.resolve(ctx, c.DataType)
		if err != nil {
			return nil, fmt.Errorf("column %s.%s.%s: %w", m.Namespace, m.RelationName, c.Name, err)
		}
		r.types[i] = t
		r.identity[i] = c.Flags&1 != 0
		r.table.Columns = append(r.table.Columns, capture.Column{Name: c.Name, Type: t.name})
	}
	keyNames, err := st.s.indexKey(ctx, m.RelationID)
	if err != nil {
		return nil, err
	}
	qualified := capture.TableID{Schema: m.Namespace, Name: m.RelationName}.String()
	if len(keyNames) == 0 {
		keyNames = st.s.cfg.KeyColumns[qualified]
	}
	for _, name := range keyNames {
		i := slices.IndexFunc(r.table.Columns, func(c capture.Column) bool { return c.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("%w: key column %s of table %s is not published (check key_columns[%s] and the publication's column list)", ErrPreflight, name, qualified, qualified)
		}
		r.table.Key = append(r.table.Key, i)
	}
	return r, nil
}

// changedFrom reports whether r, a captured relation, differs from old, the
// earlier description of the same relation id in this stream: other
// columns, column types, or another name (including a table that now
// matches include/exclude and did not before).
func (r *relation) changedFrom(old *relation) bool {
	if !r.captured {
		return false
	}
	if !old.captured {
		return true
	}
	a, b := old.table, r.table
	return a.Database != b.Database || a.Name != b.Name || !slices.Equal(a.Columns, b.Columns)
}

// relationChanged reports a changed relation to the handler as a schema
// change. PostgreSQL sends no DDL text through logical replication, so the
// statement describes the relation's new definition:
//
//	RELATION <schema>.<table> (<column> <type>, ...)
//
// with the type names of capture.Column.Type ("int4", "varchar", "text[]";
// no length or precision modifiers, defaults or NOT NULL). pgoutput sends
// the new description inside the first transaction that changes the table
// after the DDL, before that change, so the position is that transaction's.
func (st *streamState) relationChanged(ctx context.Context, r *relation) error {
	var at time.Time
	if st.inTx {
		at = st.begin.CommitTime
	}
	return st.h.Schema(ctx, capture.SchemaChange{
		Database: r.table.Database, Statement: describeRelation(r.table),
		Position: st.lastCommit.String(), CommitTime: at,
	})
}

// describeRelation is the statement of relationChanged.
func describeRelation(t *capture.Table) string {
	var b strings.Builder
	b.WriteString("RELATION ")
	b.WriteString(t.Database)
	b.WriteByte('.')
	b.WriteString(t.Name)
	b.WriteString(" (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type)
	}
	b.WriteByte(')')
	return b.String()
}

// indexKey returns the columns of the table's replica identity index
// (REPLICA IDENTITY USING INDEX), or else of its primary key, in index
// order. The identity index wins: it is what PostgreSQL logs in the old row
// of an update or delete, so a table keyed by its primary key would have
// deletes without their key.
func (s *Source) indexKey(ctx context.Context, relid uint32) ([]string, error) {
	var names []string
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		rows, err := db.Query(ctx, `SELECT a.attname FROM (
				SELECT indexrelid, indrelid, indkey FROM pg_index
				WHERE indrelid = $1 AND (indisprimary OR indisreplident)
				ORDER BY indisreplident DESC, indisprimary DESC LIMIT 1) i
			CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			ORDER BY k.ord`, relid)
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read key of relation %d: %w", relid, err)
	}
	return names, nil
}

// values decodes a tuple. In a key-only old tuple ('K', REPLICA IDENTITY
// DEFAULT or INDEX) pgoutput sends the columns outside the identity as
// NULL: they are Absent, not NULL. An unchanged TOASTed value ('u') is
// Absent: PostgreSQL did not send it.
func (r *relation) values(td *pglogrepl.TupleData, keyOnly bool) ([]any, error) {
	if td == nil {
		return nil, nil
	}
	if len(td.Columns) != len(r.types) {
		return nil, fmt.Errorf("tuple of %s.%s has %d columns, its relation %d", r.table.Database, r.table.Name, len(td.Columns), len(r.types))
	}
	out := make([]any, len(td.Columns))
	for i, c := range td.Columns {
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			if keyOnly && !r.identity[i] {
				out[i] = capture.Absent
			}
		case pglogrepl.TupleDataTypeToast:
			out[i] = capture.Absent
		case pglogrepl.TupleDataTypeText:
			v, err := r.types[i].decode(c.Data)
			if err != nil {
				return nil, fmt.Errorf("column %s of %s.%s: %w", r.table.Columns[i].Name, r.table.Database, r.table.Name, err)
			}
			out[i] = v
		default:
			return nil, fmt.Errorf("column %s of %s.%s: unexpected tuple data kind %q", r.table.Columns[i].Name, r.table.Database, r.table.Name, c.DataType)
		}
	}
	return out, nil
}

// oldImage decodes the old tuple of an update or delete: 'K' is key only,
// 'O' the full old row (REPLICA IDENTITY FULL), none gives nil.
func (r *relation) oldImage(kind uint8, td *pglogrepl.TupleData) ([]any, error) {
	switch kind {
	case 'K':
		return r.values(td, true)
	case 'O':
		return r.values(td, false)
	}
	return nil, nil
}

// fillUnchanged copies into after the values that the new tuple left out
// as unchanged TOAST but a full old row (REPLICA IDENTITY FULL) holds.
func fillUnchanged(after, before []any) {
	if len(before) != len(after) {
		return
	}
	for i, v := range after {
		if v == capture.Absent && before[i] != capture.Absent {
			after[i] = before[i]
		}
	}
}
