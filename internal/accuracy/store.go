package accuracy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tributary-cdc/tributary/internal/verify"
)

// Store is the accuracy monitor's state on disk: per source, the digest
// of the latest delivered row image of every key (verify.Entry) and where
// reading each topic partition stopped. It is a Badger database of its own
// (in the accuracy/ directory inside checkpoints.dir), so the checkpoint
// store stays small and a lost or deleted accuracy state never touches a
// checkpoint: the monitor then reads the topics again from their start.
//
// Keys are
//
//	d 0x00 <source> 0x00 <db.table> 0x00 <event key JSON>  → digest (16 bytes) + absent columns
//	o 0x00 <source> 0x00 <topic> 0x00 <partition, 4 bytes> → next offset (8 bytes)
//
// so one key of a table costs len(source)+len(db.table)+len(key)+4 bytes
// of key and 16 of value (more when its latest event lacked columns), plus
// Badger's own overhead per entry (about 30 bytes in its tables). Bytes
// reports the first two sums per source: what accuracy.state_max_bytes
// bounds.
//
// A digest and the offset after the message that wrote it are committed
// in one transaction, so after a crash the state and the offsets agree.
// Writes are not fsynced: a crash loses at most the last moments of both,
// which are read again.
type Store struct {
	db     *badger.DB
	log    *slog.Logger
	stopGC chan struct{}
	gcDone chan struct{}

	mu      sync.Mutex
	sources map[string]*sourceState
}

// Open opens or creates the store in dir.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	opts := badger.DefaultOptions(dir).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(1 << 10). // digests live in the LSM tree
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open accuracy state %s: %w", dir, err)
	}
	s := &Store{db: db, log: logger, stopGC: make(chan struct{}), gcDone: make(chan struct{}), sources: map[string]*sourceState{}}
	go s.runGC()
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error {
	close(s.stopGC)
	<-s.gcDone
	return s.db.Close()
}

func (s *Store) runGC() {
	defer close(s.gcDone)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
			for s.db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

// Source returns the state of the named source, counting its bytes on
// first use.
func (s *Store) Source(name string) (SourceState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.sources[name]; ok {
		return SourceState{st}, nil
	}
	st := &sourceState{db: s.db, name: name}
	if err := st.count(); err != nil {
		return SourceState{}, err
	}
	s.sources[name] = st
	return SourceState{st}, nil
}

// SourceState is one source's part of the Store; it implements
// verify.Digests.
type SourceState struct{ *sourceState }

var _ verify.Digests = SourceState{}

type sourceState struct {
	db    *badger.DB
	name  string
	bytes atomic.Int64
}

// Bytes is the size of the source's digests: keys and values as stored,
// without Badger's overhead.
func (s *sourceState) Bytes() int64 { return s.bytes.Load() }

func (s *sourceState) digestPrefix(table string) []byte {
	return []byte("d\x00" + s.name + "\x00" + table + "\x00")
}

func (s *sourceState) digestKey(table, key string) []byte {
	return append(s.digestPrefix(table), key...)
}

func (s *sourceState) offsetKey(topic string, p int) []byte {
	return binary.BigEndian.AppendUint32([]byte("o\x00"+s.name+"\x00"+topic+"\x00"), uint32(p))
}

// count sums the source's digest sizes.
func (s *sourceState) count() error {
	var n int64
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte("d\x00" + s.name + "\x00")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n += int64(len(it.Item().Key())) + it.Item().ValueSize()
		}
		return nil
	})
	s.bytes.Store(n)
	if err != nil {
		return fmt.Errorf("read accuracy state of %s: %w", s.name, err)
	}
	return nil
}

func (s *sourceState) Next(topic string, p int) (int64, bool, error) {
	var next int64
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.offsetKey(topic, p))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("offset of %s partition %d: %d bytes", topic, p, len(v))
			}
			next, ok = int64(binary.BigEndian.Uint64(v)), true
			return nil
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("read accuracy state of %s: %w", s.name, err)
	}
	return next, ok, nil
}

func (s *sourceState) Apply(topic string, p int, next int64, changes []verify.Change) error {
	// A truncate splits the batch: the keys before it are written, then
	// the table cleared, then the rest written with the offset. A crash in
	// between reads the batch again, which ends in the same state.
	for {
		i := slices.IndexFunc(changes, func(c verify.Change) bool { return c.Clear })
		if i < 0 {
			return s.write(changes, topic, p, next)
		}
		if err := s.write(changes[:i], "", 0, 0); err != nil {
			return err
		}
		if err := s.clear(changes[i].Table); err != nil {
			return fmt.Errorf("write accuracy state of %s: %w", s.name, err)
		}
		changes = changes[i+1:]
	}
}

// write upserts and deletes keys and, when topic is set, records next in
// one transaction.
func (s *sourceState) write(changes []verify.Change, topic string, p int, next int64) error {
	var delta int64
	err := s.db.Update(func(txn *badger.Txn) error {
		delta = 0
		for _, c := range changes {
			k := s.digestKey(c.Table, c.Key)
			if item, err := txn.Get(k); err == nil {
				delta -= int64(len(k)) + item.ValueSize()
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			if c.Entry == nil {
				if err := txn.Delete(k); err != nil {
					return err
				}
				continue
			}
			v, _ := c.Entry.MarshalBinary()
			if err := txn.Set(k, v); err != nil {
				return err
			}
			delta += int64(len(k) + len(v))
		}
		if topic == "" {
			return nil
		}
		return txn.Set(s.offsetKey(topic, p), binary.BigEndian.AppendUint64(nil, uint64(next)))
	})
	if err != nil {
		return fmt.Errorf("write accuracy state of %s: %w", s.name, err)
	}
	s.bytes.Add(delta)
	return nil
}

// clear deletes every key of table, in write batches: a large table's
// keys do not fit one transaction.
func (s *sourceState) clear(table string) error {
	prefix := s.digestPrefix(table)
	for {
		var keys [][]byte
		var delta int64
		err := s.db.View(func(v *badger.Txn) error {
			it := v.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < 10000; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
				delta -= int64(len(it.Item().Key())) + it.Item().ValueSize()
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		wb := s.db.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
		s.bytes.Add(delta)
	}
}

func (s *sourceState) Get(table, key string) (verify.Entry, bool, error) {
	var e verify.Entry
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.digestKey(table, key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return item.Value(e.UnmarshalBinary)
	})
	if err != nil {
		return e, false, fmt.Errorf("read accuracy state of %s: %w", s.name, err)
	}
	return e, ok, nil
}

func (s *sourceState) Range(table string, fn func(string, verify.Entry) error) error {
	prefix := s.digestPrefix(table)
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var e verify.Entry
			if err := it.Item().Value(e.UnmarshalBinary); err != nil {
				return err
			}
			if err := fn(string(bytes.TrimPrefix(it.Item().Key(), prefix)), e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sourceState) Count(table string) (int64, error) {
	var n int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: s.digestPrefix(table)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Forget deletes the source's whole state (keys and offsets), so that the
// monitor reads its topics again from the start.
func (s *sourceState) Forget() error {
	if err := s.db.DropPrefix([]byte("d\x00"+s.name+"\x00"), []byte("o\x00"+s.name+"\x00")); err != nil {
		return fmt.Errorf("forget accuracy state of %s: %w", s.name, err)
	}
	s.bytes.Store(0)
	return nil
}
