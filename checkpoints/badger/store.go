// Package badgerstore persists checkpoints in an embedded Badger database,
// one directory per daemon.
//
// The committed position of a source is the highest transaction boundary
// whose events, and all events before it, were acked by Kafka (see
// checkpoints.Tracker). Commit makes it durable (fsynced) before returning,
// so after a crash the daemon resumes from it and at worst replays events
// that were already delivered. Each source keeps its current checkpoint and
// a bounded history, newest first, of what was committed or rewound.
//
// Only one process may open a directory at a time; a second Open fails at
// once with an error matching ErrInUse.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"

	"github.com/dgraph-io/badger/v4"

	"github.com/tributary-cdc/tributary/checkpoints"
)

var (
	// ErrInUse matches the error from Open when another process (or another
	// Store in this one) holds the directory.
	ErrInUse = errors.New("checkpoint directory in use")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("checkpoint store closed")
)

// Store is a checkpoints.Store backed by Badger. It is safe for concurrent
// use; writes are serialised.
type Store struct {
	db  *badger.DB
	cfg config
	log *slog.Logger

	mu     sync.RWMutex // held exclusively by writers and Close
	closed bool

	stopGC chan struct{}
	gcDone chan struct{}
}

var _ checkpoints.Store = (*Store)(nil)

// Open opens or creates the store in dir and starts its background value log
// garbage collector. Close must be called to release the directory.
func Open(dir string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case dir == "":
		return nil, errors.New("open checkpoint store: empty directory")
	case cfg.historyLimit <= 0:
		return nil, fmt.Errorf("open checkpoint store: history limit %d must be positive", cfg.historyLimit)
	case cfg.gcInterval <= 0:
		return nil, fmt.Errorf("open checkpoint store: gc interval %s must be positive", cfg.gcInterval)
	case cfg.logger == nil || cfg.now == nil:
		return nil, errors.New("open checkpoint store: nil logger or clock")
	}
	log := cfg.logger.With("component", "checkpoints.badger")
	db, err := badger.Open(badgerOptions(dir, log))
	if err != nil {
		if isLockError(err) {
			return nil, &inUseError{dir: dir, err: err}
		}
		return nil, fmt.Errorf("open checkpoint directory %s: %w", dir, err)
	}
	s := &Store{
		db:     db,
		cfg:    cfg,
		log:    log,
		stopGC: make(chan struct{}),
		gcDone: make(chan struct{}),
	}
	go s.runGC()
	return s, nil
}

// Load returns the current checkpoint of source, or an error matching
// checkpoints.ErrNotFound if it has none.
func (s *Store) Load(ctx context.Context, source string) (checkpoints.Checkpoint, error) {
	var cur record
	err := s.view(ctx, source, func(txn *badger.Txn) error {
		var err error
		cur, err = getCurrent(txn, source)
		return err
	})
	if err != nil {
		return checkpoints.Checkpoint{}, fmt.Errorf("load checkpoint for %q: %w", source, err)
	}
	return cur.checkpoint(), nil
}

// Commit makes cp the current checkpoint of source and appends it to the
// history. SavedAt is set from the store's clock. It is durable (fsynced)
// when Commit returns nil.
func (s *Store) Commit(ctx context.Context, source string, cp checkpoints.Checkpoint) error {
	if err := s.write(ctx, source, cp, KindCommit); err != nil {
		return fmt.Errorf("commit checkpoint for %q: %w", source, err)
	}
	return nil
}

// Rewind sets the current checkpoint of source to cp, older or newer, and
// records it in the history as a rewind. It is meant for operators while the
// pipeline for source is stopped: a running pipeline would overwrite it with
// its next Commit.
func (s *Store) Rewind(ctx context.Context, source string, cp checkpoints.Checkpoint) error {
	if err := s.write(ctx, source, cp, KindRewind); err != nil {
		return fmt.Errorf("rewind checkpoint for %q: %w", source, err)
	}
	s.log.Info("checkpoint rewound", "source", source, "position", cp.Position)
	return nil
}

// History returns the checkpoints committed or rewound for source, newest
// first, at most the history limit. A source without checkpoints has an
// empty history.
func (s *Store) History(ctx context.Context, source string) ([]checkpoints.Checkpoint, error) {
	entries, err := s.Entries(ctx, source)
	if err != nil {
		return nil, err
	}
	out := make([]checkpoints.Checkpoint, len(entries))
	for i, e := range entries {
		out[i] = e.Checkpoint
	}
	return out, nil
}

// Entries is History with the kind of each entry.
func (s *Store) Entries(ctx context.Context, source string) ([]Entry, error) {
	var out []Entry
	err := s.view(ctx, source, func(txn *badger.Txn) error {
		cur, err := getCurrent(txn, source)
		if errors.Is(err, checkpoints.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = readHistory(txn, source, cur, s.cfg.historyLimit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoint history for %q: %w", source, err)
	}
	return out, nil
}

// Sources returns the sources that have a checkpoint, sorted.
func (s *Store) Sources(ctx context.Context) ([]string, error) {
	var out []string
	err := s.read(ctx, func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(currentPrefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out = append(out, strings.TrimPrefix(string(it.Item().Key()), currentPrefix))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list checkpoint sources: %w", err)
	}
	return out, nil
}

// Delete removes the checkpoint and history of source. Deleting a source
// without checkpoints is not an error.
func (s *Store) Delete(ctx context.Context, source string) error {
	// History goes first, in batches that fit in one transaction, and the
	// current key last: an interrupted Delete leaves a source with part of
	// its history, never history without a source.
	for more := true; more; {
		err := s.update(ctx, source, func(txn *badger.Txn) error {
			keys := historyKeys(txn, source, deleteBatch)
			if more = len(keys) == deleteBatch; !more {
				keys = append(keys, currentKey(source))
			}
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete checkpoints for %q: %w", source, err)
		}
	}
	s.log.Info("checkpoints deleted", "source", source)
	return nil
}

// Close stops the garbage collector and closes the database, releasing the
// directory. Calling it again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stopGC)
	<-s.gcDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close checkpoint store: %w", err)
	}
	return nil
}

// inUseError reports a directory locked by another Badger instance.
type inUseError struct {
	dir string
	err error
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("checkpoint directory %s is in use by another tributary process (badger: %v)", e.dir, e.err)
}

func (e *inUseError) Unwrap() error { return e.err }

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// isLockError recognises Badger's failure to flock the directory. Badger
// formats the cause with %v outside its debug mode, so the message is all
// there is to match.
func isLockError(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) ||
		strings.Contains(err.Error(), "Cannot acquire directory lock")
}
