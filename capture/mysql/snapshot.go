package mysql

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// SnapshotMode says when a source reads the rows that already exist.
type SnapshotMode string

const (
	// SnapshotNever streams changes only: rows that exist before the first
	// start are not emitted.
	SnapshotNever SnapshotMode = "never"
	// SnapshotInitial reads every captured table once, on the first start
	// (no checkpoint), while streaming; every row is emitted as an "r" event
	// at the point of the stream where its value was current.
	SnapshotInitial SnapshotMode = "initial"
	// SnapshotWhenNeeded is SnapshotInitial, and also re-reads every table
	// when the checkpoint's binlog file is gone from the server: streaming
	// then restarts at the server's current position, and the snapshot
	// replaces the changes that were lost in between.
	SnapshotWhenNeeded SnapshotMode = "when_needed"
)

// SnapshotConfig sets how a source snapshots its tables.
type SnapshotConfig struct {
	Mode SnapshotMode `yaml:"mode"`
	// ChunkSize is how many rows one SELECT reads (memory holds one chunk).
	ChunkSize int `yaml:"chunk_size"`
	// RowsPerSecond limits the read rate; 0 is unlimited.
	RowsPerSecond float64 `yaml:"rows_per_second"`
	// Parallel is how many tables are read at once; only 1 is supported.
	Parallel int `yaml:"parallel"`
	// Tables lists "db.table" to snapshot; empty: every captured table.
	Tables []string `yaml:"tables"`
}

const defaultChunkSize = 1000

func (c *SnapshotConfig) defaults() {
	if c.Mode == "" {
		c.Mode = SnapshotNever
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = defaultChunkSize
	}
	if c.Parallel == 0 {
		c.Parallel = 1
	}
}

func (c SnapshotConfig) validate(key string, f filter) []error {
	var errs []error
	switch c.Mode {
	case "", SnapshotNever, SnapshotInitial, SnapshotWhenNeeded:
	default:
		errs = append(errs, fmt.Errorf("%s.mode %q: want never, initial or when_needed", key, c.Mode))
	}
	if c.ChunkSize < 0 {
		errs = append(errs, fmt.Errorf("%s.chunk_size must be positive", key))
	}
	if c.RowsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("%s.rows_per_second must be 0 (unlimited) or positive", key))
	}
	if c.Parallel > 1 || c.Parallel < 0 {
		errs = append(errs, fmt.Errorf("%s.parallel %d: tables are read one at a time for now; set 1", key, c.Parallel))
	}
	for i, t := range c.Tables {
		db, tbl, ok := strings.Cut(t, ".")
		if !ok || db == "" || tbl == "" {
			errs = append(errs, fmt.Errorf("%s.tables[%d] %q: want db.table", key, i, t))
		} else if !f.match(db, tbl) {
			errs = append(errs, fmt.Errorf("%s.tables[%d] %q is not captured (see include/exclude)", key, i, t))
		}
	}
	return errs
}

// active reports whether the mode snapshots on a first start.
func (c SnapshotConfig) active() bool {
	return c.Mode == SnapshotInitial || c.Mode == SnapshotWhenNeeded
}

// newSnapshot lists the tables a fresh snapshot reads: the configured ones,
// or every captured table. id names the snapshot (its start position).
func (s *Source) newSnapshot(ctx context.Context, r *Reader, id string) (*SnapshotState, error) {
	tables := append([]string(nil), s.cfg.Snapshot.Tables...)
	if len(tables) == 0 {
		all, err := r.Tables(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			tables = append(tables, n[0]+"."+n[1])
		}
	}
	if len(tables) == 0 {
		return nil, nil
	}
	return &SnapshotState{ID: id, Table: tables[0], Pending: tables[1:]}, nil
}

// TableProgress is how far the snapshot of one table has come.
type TableProgress = capture.TableProgress

// progress holds the TableProgress of the running snapshot.
type progress struct {
	mu     sync.Mutex
	id     string // SnapshotState.ID the tables belong to
	tables []TableProgress
}

// start (re)starts the progress of table in snapshot id; a new id forgets
// the tables of an earlier snapshot. A table resumed by this process keeps
// its count; one resumed by a new process counts from zero.
func (p *progress) start(id, table string, total int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != p.id {
		p.id, p.tables = id, nil
	}
	for i := range p.tables {
		if p.tables[i].Table == table {
			p.tables[i].RowsTotal = total
			return i
		}
	}
	p.tables = append(p.tables, TableProgress{Table: table, RowsTotal: total, Started: time.Now()})
	return len(p.tables) - 1
}

func (p *progress) add(i int, rows int, done bool) TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &p.tables[i]
	t.RowsDone += int64(rows)
	t.Done = t.Done || done
	return *t
}

// SnapshotProgress returns the progress of every table the current (or
// last) snapshot of this source has started, for metrics and status. Safe
// to call concurrently with Stream.
func (s *Source) SnapshotProgress() []TableProgress {
	s.progress.mu.Lock()
	defer s.progress.mu.Unlock()
	return append([]TableProgress(nil), s.progress.tables...)
}

// splitTable splits "db.table" (the first dot separates; database names
// cannot hold one in a path.Match pattern either).
func splitTable(t string) (string, string) {
	db, tbl, _ := strings.Cut(t, ".")
	return db, tbl
}
