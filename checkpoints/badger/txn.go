package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// maxTrimPerWrite bounds the history entries one write deletes, so lowering
// the history limit on a large directory cannot make a transaction too big;
// the rest goes on the following writes.
const maxTrimPerWrite = 100

// deleteBatch is how many history keys Delete removes per transaction.
const deleteBatch = 500

// read runs fn in a read-only transaction unless ctx is done or s is closed.
func (s *Store) read(ctx context.Context, fn func(*badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// view is read for one source, checking its name first.
func (s *Store) view(ctx context.Context, source string, fn func(*badger.Txn) error) error {
	if err := validateSource(source); err != nil {
		return err
	}
	return s.read(ctx, fn)
}

// update runs fn in a read-write transaction, holding s.mu exclusively so
// writes never conflict. With SyncWrites, it is durable when it returns nil.
func (s *Store) update(ctx context.Context, source string, fn func(*badger.Txn) error) error {
	if err := validateSource(source); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.Update(fn)
}

// write sets the current checkpoint of source, appends it to the history and
// trims the history to the limit.
func (s *Store) write(ctx context.Context, source string, cp checkpoints.Checkpoint, kind Kind) error {
	return s.update(ctx, source, func(txn *badger.Txn) error {
		// Stamped under the write lock, so SavedAt follows history order.
		cp.SavedAt = s.cfg.now()
		first, next := uint64(1), uint64(1)
		switch cur, err := getCurrent(txn, source); {
		case errors.Is(err, checkpoints.ErrNotFound):
		case err != nil:
			return err
		default:
			first, next = cur.HistoryFirst, cur.HistoryNext
		}
		if err := setJSON(txn, historyKey(source, next), newRecord(cp, kind)); err != nil {
			return err
		}
		next++
		for n := 0; next-first > uint64(s.cfg.historyLimit) && n < maxTrimPerWrite; n++ {
			if err := txn.Delete(historyKey(source, first)); err != nil {
				return err
			}
			first++
		}
		cur := newRecord(cp, kind)
		cur.HistoryFirst, cur.HistoryNext = first, next
		return setJSON(txn, currentKey(source), cur)
	})
}

// getCurrent reads the current record of source, or checkpoints.ErrNotFound.
func getCurrent(txn *badger.Txn, source string) (record, error) {
	item, err := txn.Get(currentKey(source))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return record{}, checkpoints.ErrNotFound
	}
	if err != nil {
		return record{}, err
	}
	var cur record
	err = item.Value(func(v []byte) error {
		cur, err = decodeRecord(v)
		return err
	})
	if err == nil && (cur.HistoryFirst == 0 || cur.HistoryNext < cur.HistoryFirst) {
		err = fmt.Errorf("corrupt history bounds [%d, %d)", cur.HistoryFirst, cur.HistoryNext)
	}
	return cur, err
}

// readHistory returns up to limit entries of source, newest first.
func readHistory(txn *badger.Txn, source string, cur record, limit int) ([]Entry, error) {
	if cur.HistoryNext == cur.HistoryFirst {
		return nil, nil
	}
	opts := badger.DefaultIteratorOptions
	opts.Reverse = true
	opts.Prefix = historyKeyPrefix(source)
	opts.PrefetchSize = min(limit, 100)
	it := txn.NewIterator(opts)
	defer it.Close()

	var out []Entry
	// Entries live at [HistoryFirst, HistoryNext): stopping at the first
	// one skips the tombstones of trimmed entries below it.
	for it.Seek(historyKey(source, cur.HistoryNext-1)); it.Valid() && len(out) < limit; it.Next() {
		item := it.Item()
		if historySeq(item.Key()) < cur.HistoryFirst {
			break
		}
		err := item.Value(func(v []byte) error {
			r, err := decodeRecord(v)
			out = append(out, Entry{Checkpoint: r.checkpoint(), Kind: r.Kind})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// historyKeys returns up to n history keys of source, oldest first.
func historyKeys(txn *badger.Txn, source string, n int) [][]byte {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = historyKeyPrefix(source)
	it := txn.NewIterator(opts)
	defer it.Close()
	var keys [][]byte
	for it.Rewind(); it.Valid() && len(keys) < n; it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

func setJSON(txn *badger.Txn, key []byte, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode checkpoint record: %w", err)
	}
	return txn.Set(key, b)
}
