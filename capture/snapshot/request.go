package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrRequest marks an on-demand snapshot request that names a table the
// source cannot snapshot (not schema.table, not captured, missing,
// keyless).
var ErrRequest = errors.New("invalid snapshot request")

// RequestCheckTimeout bounds the checks of a snapshot request.
const RequestCheckTimeout = 15 * time.Second

// Request describes an on-demand snapshot request for CheckRequest.
type Request struct {
	Source string   // the source's name, for sources[<name>] in errors
	Form   string   // how the source names a table: "db.table", "schema.table"
	Tables []string // as requested
	// Captured reports whether the source's include/exclude take the table.
	Captured func(schema, table string) bool
	// Check checks a captured table on the server: refused (wrapping
	// ErrRequest) when the table is missing or has no key, err when the
	// check could not be made.
	Check func(ctx context.Context, name, schema, table string) (refused, err error)
}

// CheckRequest trims and de-duplicates the requested tables and refuses,
// wrapping ErrRequest, the ones a snapshot could not read: none named, not
// in Form, not captured, or refused by Check. It returns the tables to
// queue. Other errors mean the check could not be made. The checks take
// RequestCheckTimeout at most.
func CheckRequest(ctx context.Context, r Request) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestCheckTimeout)
	defer cancel()
	var tables []string
	for _, t := range r.Tables {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("%w: name at least one table (%s)", ErrRequest, r.Form)
	}
	var errs []error
	for _, t := range tables {
		schema, tbl, ok := strings.Cut(t, ".")
		switch {
		case !ok || schema == "" || tbl == "":
			errs = append(errs, fmt.Errorf("%w: table %q: want %s", ErrRequest, t, r.Form))
		case !r.Captured(schema, tbl):
			errs = append(errs, fmt.Errorf("%w: %s is not captured by source %s (see its include/exclude)", ErrRequest, t, r.Source))
		default:
			refused, err := r.Check(ctx, t, schema, tbl)
			if err != nil {
				return nil, err
			}
			if refused != nil {
				errs = append(errs, refused)
			}
		}
	}
	return tables, errors.Join(errs...)
}

// NoKeyError is the refusal of a table without a primary key.
func NoKeyError(source, table string) error {
	return fmt.Errorf("%w: %s has no primary key; name a unique NOT NULL key in sources[%s].key_columns", ErrRequest, table, source)
}
