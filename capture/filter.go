package capture

import (
	"fmt"
	"path"
	"strings"
)

// TableFilter decides which tables a source captures, from globs over
// "<namespace>.<table>" (a MySQL database or a PostgreSQL schema) in
// path.Match syntax. Exclude wins; an empty Include means every table.
type TableFilter struct {
	Include, Exclude []string
}

// Match reports whether namespace.table is captured.
func (f TableFilter) Match(namespace, table string) bool {
	name := TableID{Schema: namespace, Name: table}.String()
	for _, p := range f.Exclude {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, p := range f.Include {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// CheckPattern validates one include/exclude pattern; namespace names the
// first part in the message ("db" or "schema"), example is a valid pattern.
func CheckPattern(p, namespace, example string) error {
	ns, tbl, ok := strings.Cut(p, ".")
	if !ok || ns == "" || tbl == "" {
		return fmt.Errorf("pattern %q: want %s.table (globs allowed, e.g. %s)", p, namespace, example)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}
