// Package toastcache keeps, per source, table, row key and column, the last
// large value a PostgreSQL source saw, so that an update whose new tuple
// leaves an unchanged TOASTed column out can carry it again
// (capture/postgres, postgres.toast: fill).
//
// The cache lives in a Badger database of its own, in the "toast"
// directory inside checkpoints.dir: its values are large and many, the
// checkpoints few and tiny, and the two want different tuning. Writes are
// not synced one by one; the pipeline calls Sync before each checkpoint
// commit, so every value written for events up to a checkpoint is durable
// before the checkpoint is.
//
// Key layout (one key per cached value):
//
//	t/<source>\x00<schema.table>\x00<row key>\x00<column>
//
// The row key is capture.KeyString of the key values (JSON, no NUL), so
// one row's prefix never contains another's. The value is a record:
// version byte, the position of the image that wrote it (LSN, index),
// the column's type name then, and the encoded value.
package toastcache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Dir is the cache's directory inside checkpoints.dir.
func Dir(checkpointDir string) string { return filepath.Join(checkpointDir, "toast") }

// DB is the daemon's TOAST cache database, shared by its sources. It is
// safe for concurrent use.
type DB struct {
	db  *badger.DB
	log *slog.Logger

	mu     sync.Mutex
	caches map[string]*Cache
	closed bool

	stopGC chan struct{}
	gcDone chan struct{}
}

// MaxValueBytes is the largest value the cache keeps (Badger's value log
// file size bounds one value); larger ones stay absent.
const MaxValueBytes = 60 << 20

// Open opens or creates the cache database in dir.
func Open(dir string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create TOAST cache directory %s: %w", dir, err)
	}
	log := logger.With("component", "toastcache")
	opts := badger.DefaultOptions(dir).
		// Synced before each checkpoint (Sync), not per write.
		WithSyncWrites(false).
		// Memtables hold keys and value pointers only (the threshold
		// below): 2 MiB is tens of thousands of entries, and each
		// memtable's arena is allocated whole, live for the daemon's life.
		WithMemTableSize(2 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		// Values are large: they go to the value log, keys stay in the
		// tree; overwritten and deleted values are reclaimed by the GC.
		WithValueThreshold(1 << 10).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open TOAST cache %s: %w", dir, err)
	}
	d := &DB{db: db, log: log, caches: map[string]*Cache{}, stopGC: make(chan struct{}), gcDone: make(chan struct{})}
	go d.runGC(time.Minute)
	return d, nil
}

// Sync makes every write so far durable. The pipeline calls it before it
// commits a checkpoint.
func (d *DB) Sync() error {
	d.mu.Lock()
	caches := make([]*Cache, 0, len(d.caches))
	for _, c := range d.caches {
		caches = append(caches, c)
	}
	d.mu.Unlock()
	seen := make([]uint64, len(caches))
	for i, c := range caches {
		var err error
		if seen[i], err = c.writeSeen(); err != nil {
			return err
		}
	}
	if err := d.db.Sync(); err != nil {
		return fmt.Errorf("sync TOAST cache: %w", err)
	}
	for i, c := range caches {
		c.mu.Lock()
		c.synced = max(c.synced, seen[i])
		c.mu.Unlock()
	}
	return nil
}

// Cache returns source's cache, bounded to maxBytes (keys and values),
// loading its index on first use; later calls return the same Cache.
func (d *DB) Cache(source string, maxBytes int64) (*Cache, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("TOAST cache closed")
	}
	if c, ok := d.caches[source]; ok {
		c.setMax(maxBytes)
		return c, nil
	}
	c, err := loadCache(d, source, maxBytes)
	if err != nil {
		return nil, err
	}
	d.caches[source] = c
	return c, nil
}

// Close stops the garbage collector and closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	close(d.stopGC)
	<-d.gcDone
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close TOAST cache: %w", err)
	}
	return nil
}

// runGC reclaims overwritten and deleted values every interval.
func (d *DB) runGC(interval time.Duration) {
	defer close(d.gcDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-d.stopGC:
			return
		case <-tick.C:
		}
		for {
			err := d.db.RunValueLogGC(0.5)
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				d.log.Warn("TOAST cache garbage collection failed", "err", err)
			}
			break
		}
	}
}
