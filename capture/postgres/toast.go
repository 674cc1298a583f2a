package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/toastcache"
)

// ToastMode is postgres.toast: what an update's after image holds for a
// TOASTed column the update did not change (pgoutput leaves such values
// out unless the table has REPLICA IDENTITY FULL).
type ToastMode string

const (
	// ToastFill fills the column from the last value the source saw for
	// the same row (insert, update or snapshot row), kept in the TOAST
	// cache beside the checkpoints. Without one the column stays absent
	// and tributary_toast_unfilled_total counts it; a filled value is
	// always the row's value at that event, never a guess.
	ToastFill ToastMode = "fill"
	// ToastAbsent leaves the column absent: consumers keep the value
	// they have. Nothing is cached.
	ToastAbsent ToastMode = "absent"
)

// DefaultToastCacheMaxBytes bounds a source's TOAST cache (1 GiB).
const DefaultToastCacheMaxBytes = 1 << 30

// toastMinBytes is the smallest value the cache keeps: PostgreSQL moves
// values out of line (and then omits them when unchanged) only once a row
// exceeds TOAST_TUPLE_THRESHOLD, about 2 kB with 8 kB pages. Smaller
// values it moved out anyway (a row of many mid-sized columns, a lowered
// toast_tuple_target) stay absent and are counted.
const toastMinBytes = 2000

// ToastCache is the durable per-row store of large values the filler
// uses (toastcache.Cache).
type ToastCache interface {
	Get(table, rowKey, column string) (toastcache.Entry, bool, error)
	Put(table, rowKey, column string, e toastcache.Entry) (bool, error)
	Delete(table, rowKey, column string) error
	DeleteRow(table, rowKey string) error
	DeleteTable(table string) error
	Holds(table string) bool // whether anything of table is cached
	Seen(lsn uint64)
	Continuous(from uint64) bool
	Reset(from uint64) error
}

// UseToastCache makes Stream fill unchanged TOASTed columns from cache
// (postgres.toast: fill; with toast: absent it is ignored). unfilled is
// called with the number of columns left absent for want of a value (nil:
// not counted). Call it before Stream.
func (s *Source) UseToastCache(cache ToastCache, unfilled func(n int)) {
	if s.cfg.Toast != ToastFill {
		return
	}
	if unfilled == nil {
		unfilled = func(int) {}
	}
	s.toast, s.toastUnfilled = cache, unfilled
}

// ToastFill reports whether the source fills unchanged TOASTed columns
// (postgres.toast: fill).
func (s *Source) ToastFill() bool { return s.cfg.Toast == ToastFill }

// ToastCacheMaxBytes is postgres.toast_cache_max_bytes.
func (s *Source) ToastCacheMaxBytes() int64 { return s.cfg.ToastCacheMaxBytes }

// toastFiller sits between the stream loop and the handler. It sees every
// change in stream order (snapshot rows where the loop emits them, inside
// their watermark transaction) and keeps the cache in step: an image's
// large values are written at its order, smaller values and deleted rows
// dropped; an absent column is filled only from a value written at or
// before the change's own order. A replay from an older checkpoint meets
// values written later by the previous run: those are not used (the
// column stays absent) until the replay rewrites them.
type toastFiller struct {
	capture.Handler
	cache    ToastCache
	unfilled func(int)
	st       *streamState

	lsn uint64 // commit LSN of the transaction being handed over
	n   uint32 // index of the next change in it
}

// startToast prepares the cache for a stream starting after start: a gap
// behind what it has seen (a first start, a re-created slot, a checkpoint
// deleted or moved forward) means values may have changed unseen, so it
// starts empty.
func (s *Source) startToast(start pglogrepl.LSN) error {
	if s.toast == nil || s.toast.Continuous(uint64(start)) {
		return nil
	}
	s.log.Info("TOAST cache reset: the stream starts past what it has seen", "from", start.String())
	return s.toast.Reset(uint64(start))
}

func (f *toastFiller) order() toastcache.Order {
	lsn := uint64(f.st.begin.FinalLSN)
	if lsn != f.lsn {
		f.lsn, f.n = lsn, 0
	}
	o := toastcache.Order{LSN: lsn, Index: f.n}
	f.n++
	return o
}

// Change fills and records c, then hands it over.
func (f *toastFiller) Change(ctx context.Context, c *capture.Change) error {
	if err := f.apply(c); err != nil {
		return err
	}
	return f.Handler.Change(ctx, c)
}

// Commit records that the cache has seen everything up to the commit.
func (f *toastFiller) Commit(ctx context.Context, c capture.Commit) error {
	if lsn, _, err := ParsePosition(c.Position); err == nil {
		f.cache.Seen(uint64(lsn))
	}
	return f.Handler.Commit(ctx, c)
}

func (f *toastFiller) apply(c *capture.Change) error {
	t := c.Table
	table := capture.TableID{Schema: t.Database, Name: t.Name}.String()
	if c.Op == capture.OpTruncate {
		return f.wrap(f.cache.DeleteTable(table))
	}
	if len(t.Key) == 0 {
		return nil // no row identity: nothing can be cached or filled
	}
	at := f.order() // for every change, so that orders repeat on a replay
	// Most rows of most tables hold no large value: with nothing of the
	// table cached, there is nothing to drop, move or fill, and their keys
	// need not be built.
	held := f.cache.Holds(table)
	if c.Op == capture.OpDelete {
		if c.Before == nil || !held {
			return nil
		}
		return f.wrap(f.cache.DeleteRow(table, capture.KeyString(c.Before, t.Key)))
	}
	if !held && !toastRelevant(c.After) {
		return nil
	}
	key := capture.KeyString(c.After, t.Key)
	// An update that changed the key names the old one in its before
	// image: the row's cached values are under it, and move.
	from := key
	if c.Before != nil && keyPresent(c.Before, t.Key) {
		from = capture.KeyString(c.Before, t.Key)
	}
	missing := 0
	for i, v := range c.After {
		col, typ := t.Columns[i].Name, t.Columns[i].Type
		if v != capture.Absent {
			if err := f.record(table, key, col, typ, v, at); err != nil {
				return err
			}
			continue
		}
		e, ok, err := f.cache.Get(table, from, col)
		if err == nil && !ok && from != key {
			// A replay of the key change itself: the previous run moved
			// the value to the new key at exactly this event.
			if e, ok, err = f.cache.Get(table, key, col); ok && e.At != at {
				ok = false
			}
		}
		if err != nil {
			return f.wrap(err)
		}
		val, decoded := decodeToast(e.Value)
		if !ok || e.At.Compare(at) > 0 || e.Type != typ || !decoded {
			missing++
			if from != key { // whatever the new key held is not this row's
				if err := f.cache.Delete(table, key, col); err != nil {
					return f.wrap(err)
				}
			}
			continue
		}
		c.After[i] = val
		if from != key && e.At != at {
			if _, err := f.cache.Put(table, key, col, toastcache.Entry{At: at, Type: typ, Value: e.Value}); err != nil {
				return f.wrap(err)
			}
		}
	}
	if from != key {
		if err := f.cache.DeleteRow(table, from); err != nil {
			return f.wrap(err)
		}
	}
	if missing > 0 {
		f.unfilled(missing)
	}
	return nil
}

// record keeps v, column col's value written at at, when it is large
// enough for PostgreSQL to leave it out later, and drops what the cache
// held for the column otherwise.
func (f *toastFiller) record(table, key, col, typ string, v any, at toastcache.Order) error {
	if toastSize(v) < toastMinBytes { // not worth a copy to learn that
		return f.wrap(f.cache.Delete(table, key, col))
	}
	enc, ok := encodeToast(v)
	if ok && len(enc) > toastMinBytes {
		_, err := f.cache.Put(table, key, col, toastcache.Entry{At: at, Type: typ, Value: enc})
		return f.wrap(err)
	}
	return f.wrap(f.cache.Delete(table, key, col))
}

func (f *toastFiller) wrap(err error) error {
	if err != nil {
		return fmt.Errorf("TOAST cache at %s: %w", pglogrepl.LSN(f.st.begin.FinalLSN), err)
	}
	return nil
}

// keyPresent reports whether row holds every key value (a key-only old
// tuple does; an absent before image does not).
func keyPresent(row []any, key []int) bool {
	for _, k := range key {
		if k >= len(row) || row[k] == capture.Absent {
			return false
		}
	}
	return true
}

// encodeToast is the cache's encoding of the canonical values a TOASTable
// column can have: a tag byte, then the bytes. Other kinds (arrays) are
// not cached.
func encodeToast(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return append([]byte{'s'}, x...), true
	case []byte:
		return append([]byte{'b'}, x...), true
	case json.RawMessage:
		return append([]byte{'j'}, x...), true
	}
	return nil, false
}

// toastRelevant reports whether a row has a value to fill (absent) or to
// keep (large enough to be left out later).
func toastRelevant(row []any) bool {
	for _, v := range row {
		if v == capture.Absent || toastSize(v) >= toastMinBytes {
			return true
		}
	}
	return false
}

// toastSize is the length of v's bytes in encodeToast's kinds, 0 for the
// others.
func toastSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case json.RawMessage:
		return len(x)
	}
	return 0
}

func decodeToast(b []byte) (any, bool) {
	if len(b) == 0 {
		return nil, false
	}
	rest := b[1:]
	switch b[0] {
	case 's':
		return string(rest), true
	case 'b':
		return append([]byte{}, rest...), true
	case 'j':
		return json.RawMessage(append([]byte{}, rest...)), true
	}
	return nil, false
}
