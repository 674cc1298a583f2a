package capture

import (
	"fmt"
	"strings"
)

// TableID names a table: a MySQL database or PostgreSQL schema, and the
// table's name in it. It is comparable, so it can key a map.
type TableID struct {
	Schema string // the MySQL database or the PostgreSQL schema
	Name   string
}

// String is "db.table", the form of include/exclude patterns, key_columns
// and snapshot requests.
func (t TableID) String() string { return t.Schema + "." + t.Name }

// ParseTableID reads "db.table": the text before the first dot is the
// database (or schema), the rest the table; neither may be empty.
func ParseTableID(s string) (TableID, error) {
	schema, name, ok := strings.Cut(s, ".")
	if !ok || schema == "" || name == "" {
		return TableID{}, fmt.Errorf("%q: want db.table", s)
	}
	return TableID{Schema: schema, Name: name}, nil
}

// ID is the table's identity.
func (t *Table) ID() TableID { return TableID{Schema: t.Database, Name: t.Name} }
