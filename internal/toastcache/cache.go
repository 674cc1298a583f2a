package toastcache

import (
	"cmp"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Order is where an image lies in a source's stream: the commit LSN of its
// transaction and its index inside it. Replays of the same WAL give the
// same orders.
type Order struct {
	LSN   uint64
	Index uint32
}

// Compare orders o and p.
func (o Order) Compare(p Order) int {
	if c := cmp.Compare(o.LSN, p.LSN); c != 0 {
		return c
	}
	return cmp.Compare(o.Index, p.Index)
}

// Entry is one cached value.
type Entry struct {
	// At is the image that wrote Value: a fill at an order before it must
	// not use it (a replay from an older checkpoint).
	At Order
	// Type is the column's type name when the value was written.
	Type string
	// Value is the value, in the caller's encoding.
	Value []byte
}

const recordVersion = 1

func encodeEntry(e Entry) []byte {
	b := make([]byte, 0, 1+8+4+binary.MaxVarintLen64+len(e.Type)+len(e.Value))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, e.At.LSN)
	b = binary.BigEndian.AppendUint32(b, e.At.Index)
	b = binary.AppendUvarint(b, uint64(len(e.Type)))
	b = append(b, e.Type...)
	return append(b, e.Value...)
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) < 13 || b[0] != recordVersion {
		return Entry{}, errors.New("decode TOAST cache record: unknown version or truncated")
	}
	e := Entry{At: Order{LSN: binary.BigEndian.Uint64(b[1:9]), Index: binary.BigEndian.Uint32(b[9:13])}}
	n, w := binary.Uvarint(b[13:])
	if w <= 0 || uint64(len(b)-13-w) < n {
		return Entry{}, errors.New("decode TOAST cache record: truncated type")
	}
	rest := b[13+w:]
	e.Type = string(rest[:n])
	e.Value = rest[n:]
	return e, nil
}

// Cache is one source's part of the database, bounded by bytes with
// least-recently-used eviction. Its methods are safe for concurrent use.
type Cache struct {
	d      *DB
	source string
	prefix []byte

	mu    sync.Mutex
	max   int64
	size  int64
	lru   *list.List // of *slot, most recently used first
	index map[string]*list.Element
	// tables counts the entries of each table: most tables never hold a
	// value large enough to be cached, and Get and the deletes, called for
	// every column of every change, answer for them without building a key.
	tables  map[string]int
	evicted uint64 // since the last warning
	warned  time.Time
	// seen is the highest commit LSN the source handed over with this
	// cache in use; synced is what the meta key holds (Sync writes it).
	seen, synced uint64
}

// slot is a key the cache holds and the bytes it takes (key and value).
type slot struct {
	key   string
	table string
	size  int64
}

func loadCache(d *DB, source string, maxBytes int64) (*Cache, error) {
	c := &Cache{d: d, source: source, prefix: []byte("t/" + source + "\x00"), max: maxBytes,
		lru: list.New(), index: map[string]*list.Element{}, tables: map[string]int{}}
	if err := c.loadSeen(); err != nil {
		return nil, err
	}
	type found struct {
		slot
		version uint64
	}
	var all []found
	err := d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = c.prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			key := string(item.KeyCopy(nil))
			all = append(all, found{slot{key, c.tableOf(key), int64(len(item.Key())) + item.ValueSize()}, item.Version()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load TOAST cache of %s: %w", source, err)
	}
	// After a restart the order of use is the order of writing.
	slices.SortFunc(all, func(a, b found) int { return cmp.Compare(a.version, b.version) })
	for _, f := range all {
		c.index[f.key] = c.lru.PushFront(&slot{key: f.key, table: f.table, size: f.size})
		c.tables[f.table]++
		c.size += f.size
	}
	return c, nil
}

func (c *Cache) setMax(n int64) {
	c.mu.Lock()
	c.max = n
	c.mu.Unlock()
}

// Size is the bytes the source's entries take (keys and values).
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Len is the number of cached values.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) rowPrefix(table, key string) []byte {
	b := append(append([]byte{}, c.prefix...), table...)
	b = append(b, 0)
	b = append(b, key...)
	return append(b, 0)
}

// tableOf is the table of a key of this cache (prefix, table, 0, ...).
func (c *Cache) tableOf(key string) string {
	rest := key[min(len(c.prefix), len(key)):]
	if i := strings.IndexByte(rest, 0); i >= 0 {
		return rest[:i]
	}
	return rest
}

func (c *Cache) key(table, rowKey, column string) []byte {
	return append(c.rowPrefix(table, rowKey), column...)
}

// Get returns the value cached for column of the row with key rowKey in
// table.
func (c *Cache) Get(table, rowKey, column string) (Entry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables[table] == 0 {
		return Entry{}, false, nil
	}
	k := c.key(table, rowKey, column)
	el, ok := c.index[string(k)]
	if !ok {
		return Entry{}, false, nil
	}
	var e Entry
	err := c.d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			var err error
			if e, err = decodeEntry(v); err == nil {
				e.Value = append([]byte(nil), e.Value...)
			}
			return err
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		c.dropLocked(el)
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("read TOAST cache of %s: %w", c.source, err)
	}
	c.lru.MoveToFront(el)
	return e, true, nil
}

// Put caches e for column of the row (replacing what was there), then
// evicts the least recently used values while the source's entries exceed
// the bound. An entry larger than the bound on its own, or than
// MaxValueBytes, is not kept (and any older value of it is dropped): it
// reports false.
func (c *Cache) Put(table, rowKey, column string, e Entry) (bool, error) {
	k := c.key(table, rowKey, column)
	v := encodeEntry(e)
	size := int64(len(k) + len(v))
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.max || len(e.Value) > MaxValueBytes {
		return false, c.deleteLocked(k)
	}
	if err := c.d.db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
		return false, fmt.Errorf("write TOAST cache of %s: %w", c.source, err)
	}
	if el, ok := c.index[string(k)]; ok {
		c.size -= el.Value.(*slot).size
		el.Value.(*slot).size = size
		c.lru.MoveToFront(el)
	} else {
		c.index[string(k)] = c.lru.PushFront(&slot{key: string(k), table: table, size: size})
		c.tables[table]++
	}
	c.size += size
	return true, c.evictLocked()
}

// Delete drops the value of column of the row.
func (c *Cache) Delete(table, rowKey, column string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables[table] == 0 {
		return nil
	}
	return c.deleteLocked(c.key(table, rowKey, column))
}

// DeleteRow drops every value of the row.
func (c *Cache) DeleteRow(table, rowKey string) error {
	if !c.Holds(table) {
		return nil
	}
	return c.deletePrefix(c.rowPrefix(table, rowKey))
}

// DeleteTable drops every value of table.
func (c *Cache) DeleteTable(table string) error {
	if !c.Holds(table) {
		return nil
	}
	p := append(append(append([]byte{}, c.prefix...), table...), 0)
	return c.deletePrefix(p)
}

// Holds reports whether the cache has an entry of table.
func (c *Cache) Holds(table string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tables[table] > 0
}

func (c *Cache) deletePrefix(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys [][]byte
	err := c.d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = p
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read TOAST cache of %s: %w", c.source, err)
	}
	return c.deleteKeysLocked(keys)
}

func (c *Cache) deleteLocked(k []byte) error {
	if _, ok := c.index[string(k)]; !ok {
		return nil
	}
	return c.deleteKeysLocked([][]byte{k})
}

// deleteKeysLocked deletes keys in batches that fit a transaction.
func (c *Cache) deleteKeysLocked(keys [][]byte) error {
	wb := c.d.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("delete from TOAST cache of %s: %w", c.source, err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("delete from TOAST cache of %s: %w", c.source, err)
	}
	for _, k := range keys {
		if el, ok := c.index[string(k)]; ok {
			c.dropLocked(el)
		}
	}
	return nil
}

func (c *Cache) dropLocked(el *list.Element) {
	s := el.Value.(*slot)
	c.lru.Remove(el)
	delete(c.index, s.key)
	if c.tables[s.table]--; c.tables[s.table] <= 0 {
		delete(c.tables, s.table)
	}
	c.size -= s.size
}

// evictLocked drops the least recently used values until the entries fit
// the bound, and warns (at most once a minute) that it did.
func (c *Cache) evictLocked() error {
	if c.size <= c.max {
		return nil
	}
	var keys [][]byte
	freed := int64(0)
	for el := c.lru.Back(); el != nil && c.size-freed > c.max; el = el.Prev() {
		s := el.Value.(*slot)
		keys = append(keys, []byte(s.key))
		freed += s.size
	}
	if err := c.deleteKeysLocked(keys); err != nil {
		return err
	}
	c.evicted += uint64(len(keys))
	if now := time.Now(); now.Sub(c.warned) >= time.Minute {
		c.d.log.Warn("TOAST cache full: least recently used values evicted; updates that leave those columns unchanged carry them as absent (tributary_toast_unfilled_total) — raise postgres.toast_cache_max_bytes",
			"source", c.source, "evicted", c.evicted, "max_bytes", c.max)
		c.warned, c.evicted = now, 0
	}
	return nil
}

// metaKey holds the highest commit LSN of source the cache has seen.
func metaKey(source string) []byte { return []byte("m/" + source) }

func (c *Cache) loadSeen() error {
	return c.d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(metaKey(c.source))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load TOAST cache of %s: %w", c.source, err)
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("load TOAST cache of %s: bad meta record", c.source)
			}
			c.seen = binary.BigEndian.Uint64(v)
			c.synced = c.seen
			return nil
		})
	})
}

// Seen records that every transaction committed up to lsn was handed
// over with this cache kept up to date.
func (c *Cache) Seen(lsn uint64) {
	c.mu.Lock()
	c.seen = max(c.seen, lsn)
	c.mu.Unlock()
}

// Continuous reports whether a stream starting after from (it re-reads
// every transaction committed after from) leaves no gap behind what the
// cache has seen: from is at or before the highest commit LSN seen and
// synced. When it is not (a first start, a deleted or rewound checkpoint,
// a re-created slot), values may have changed unseen: call Reset.
func (c *Cache) Continuous(from uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len() == 0 || from <= c.synced
}

// Reset drops every value of the source and starts its history at from.
func (c *Cache) Reset(from uint64) error {
	if err := c.deletePrefix(c.prefix); err != nil {
		return err
	}
	c.mu.Lock()
	c.seen, c.synced = from, 0
	c.mu.Unlock()
	return nil
}

// writeSeen stores the highest LSN seen; Sync calls it before syncing.
func (c *Cache) writeSeen() (uint64, error) {
	c.mu.Lock()
	seen := c.seen
	c.mu.Unlock()
	if seen == 0 {
		return 0, nil
	}
	err := c.d.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(c.source), binary.BigEndian.AppendUint64(nil, seen))
	})
	if err != nil {
		return 0, fmt.Errorf("write TOAST cache meta of %s: %w", c.source, err)
	}
	return seen, nil
}
