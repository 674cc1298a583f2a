package badgerstore

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// gcDiscardRatio is the share of a value log file that must be stale before
// the garbage collector rewrites it.
const gcDiscardRatio = 0.5

// runGC collects value log garbage every gcInterval until stopGC is closed.
// Positions are rewritten on every commit; without it, values stored in the
// value log would grow the directory forever.
func (s *Store) runGC() {
	defer close(s.gcDone)
	ticker := time.NewTicker(s.cfg.gcInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-ticker.C:
			s.collectGarbage()
		}
	}
}

// collectGarbage runs value log GC until there is nothing left to rewrite:
// each successful run rewrites at most one file.
func (s *Store) collectGarbage() {
	for {
		select {
		case <-s.stopGC:
			return
		default:
		}
		err := s.db.RunValueLogGC(gcDiscardRatio)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
		default:
			s.log.Warn("value log garbage collection failed", "err", err)
		}
		return
	}
}
