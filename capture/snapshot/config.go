// Package snapshot holds what the MySQL/MariaDB and PostgreSQL sources share
// to read the rows that already exist while they keep streaming: the
// configuration, the pending work carried in checkpoint positions (State),
// row keys compared across the stream and the table reads, and progress.
//
// Both sources run the same chunked watermark algorithm (DBLog): a chunk of
// a table is read by key range, bracketed by positions of the change
// stream; the stream loop emits the chunk's rows as "r" changes at the point
// of the stream where they were current, leaving out rows that a change
// emitted before them made stale. How a chunk is tied to the stream is the
// source's business (capture/mysql, capture/postgres).
package snapshot

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/time/rate"
)

// Mode says when a source reads the rows that already exist.
type Mode string

const (
	// Never streams changes only: rows that exist before the first start
	// are not emitted.
	Never Mode = "never"
	// Initial reads every captured table once, on the first start (no
	// checkpoint), while streaming.
	Initial Mode = "initial"
	// WhenNeeded is Initial, and also re-reads every table when the
	// checkpoint's position is gone from the server (a purged binlog, a
	// PostgreSQL slot that moved past it).
	WhenNeeded Mode = "when_needed"
)

// Config sets how a source snapshots its tables.
type Config struct {
	Mode Mode `yaml:"mode"`
	// ChunkSize is how many rows one SELECT reads; memory holds at most
	// Parallel chunks.
	ChunkSize int `yaml:"chunk_size"`
	// ChunkBytes bounds the memory of one chunk: a chunk whose values add up
	// to it ends early (at its last row), so wide rows cannot make a chunk
	// of ChunkSize rows huge. Default 64 MiB.
	ChunkBytes int `yaml:"chunk_bytes"`
	// RowsPerSecond limits the read rate of the whole source; 0 is
	// unlimited.
	RowsPerSecond float64 `yaml:"rows_per_second"`
	// Parallel is how many tables are read at once, each on its own
	// connection.
	Parallel int `yaml:"parallel"`
	// Tables lists "db.table" ("schema.table") to snapshot; empty: every
	// captured table.
	Tables []string `yaml:"tables"`
}

// DefaultChunkSize is the chunk size when none is configured.
const DefaultChunkSize = 1000

// DefaultChunkBytes is the chunk byte budget when none is configured.
const DefaultChunkBytes = 64 << 20

// MaxParallel bounds Parallel: every reader holds a connection.
const MaxParallel = 16

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Mode == "" {
		c.Mode = Never
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Parallel == 0 {
		c.Parallel = 1
	}
	if c.ChunkBytes == 0 {
		c.ChunkBytes = DefaultChunkBytes
	}
}

// Validate checks c; key names the section ("sources[crm].snapshot") and
// captured reports whether a table is captured by the source.
func (c Config) Validate(key string, captured func(db, table string) bool) []error {
	var errs []error
	switch c.Mode {
	case "", Never, Initial, WhenNeeded:
	default:
		errs = append(errs, fmt.Errorf("%s.mode %q: want never, initial or when_needed", key, c.Mode))
	}
	if c.ChunkSize < 0 {
		errs = append(errs, fmt.Errorf("%s.chunk_size must be positive", key))
	}
	if c.ChunkBytes < 0 {
		errs = append(errs, fmt.Errorf("%s.chunk_bytes must be positive", key))
	}
	if c.RowsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("%s.rows_per_second must be 0 (unlimited) or positive", key))
	}
	if c.Parallel < 0 || c.Parallel > MaxParallel {
		errs = append(errs, fmt.Errorf("%s.parallel %d: want 1 to %d tables read at once (each holds a connection)", key, c.Parallel, MaxParallel))
	}
	for i, t := range c.Tables {
		db, tbl, ok := strings.Cut(t, ".")
		if !ok || db == "" || tbl == "" {
			errs = append(errs, fmt.Errorf("%s.tables[%d] %q: want db.table", key, i, t))
		} else if captured != nil && !captured(db, tbl) {
			errs = append(errs, fmt.Errorf("%s.tables[%d] %q is not captured (see include/exclude)", key, i, t))
		}
	}
	return errs
}

// Active reports whether the mode snapshots on a first start.
func (c Config) Active() bool {
	return c.Mode == Initial || c.Mode == WhenNeeded
}

// Limiter spreads RowsPerSecond over every reader of a source; nil when
// unlimited.
type Limiter struct{ lim *rate.Limiter }

// NewLimiter returns the limiter for c, nil when c is unlimited.
func NewLimiter(c Config) *Limiter {
	if c.RowsPerSecond <= 0 {
		return nil
	}
	return &Limiter{rate.NewLimiter(rate.Limit(c.RowsPerSecond), max(c.ChunkSize, int(c.RowsPerSecond)))}
}

// Wait blocks until n more rows may be read. A nil Limiter never waits.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	for ; n > 0; n -= l.lim.Burst() {
		if err := l.lim.WaitN(ctx, min(n, l.lim.Burst())); err != nil {
			return err
		}
	}
	return nil
}

// Split splits "db.table" at the first dot.
func Split(t string) (string, string) {
	db, tbl, _ := strings.Cut(t, ".")
	return db, tbl
}
