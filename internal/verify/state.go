package verify

import (
	"context"
	"sync"
)

// Digests stores the latest entry per key of a source's tables and where
// reading each topic partition stopped. verify keeps one in memory for a
// run (NewMemoryDigests); the daemon's accuracy monitor keeps one on disk
// that outlives restarts. Implementations are safe for concurrent use.
type Digests interface {
	// Next is the offset reading partition p of topic continues at; ok is
	// false when the partition was never read.
	Next(topic string, p int) (next int64, ok bool, err error)
	// Apply records the changes read from partition p of topic and, with
	// them (atomically, for a durable store), that reading continues at
	// next.
	Apply(topic string, p int, next int64, changes []Change) error
	// Get returns the entry of key in table ("db.table").
	Get(table, key string) (Entry, bool, error)
	// Range calls fn for every key of table, in no particular order,
	// stopping at fn's first error.
	Range(table string, fn func(key string, e Entry) error) error
	// Count is the number of keys of table.
	Count(table string) (int64, error)
}

// Change is one key's new state; a nil Entry deletes the key, and Clear
// (a truncate) removes every key of Table.
type Change struct {
	Table, Key string
	Entry      *Entry
	Clear      bool
}

// memoryDigests is Digests in maps.
type memoryDigests struct {
	mu     sync.Mutex
	tables map[string]map[string]Entry
	next   map[string]map[int]int64
}

// NewMemoryDigests returns an empty in-memory Digests.
func NewMemoryDigests() Digests {
	return &memoryDigests{tables: map[string]map[string]Entry{}, next: map[string]map[int]int64{}}
}

func (m *memoryDigests) Next(topic string, p int) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.next[topic][p]
	return n, ok, nil
}

func (m *memoryDigests) Apply(topic string, p int, next int64, changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		keys := m.tables[c.Table]
		switch {
		case c.Clear:
			delete(m.tables, c.Table)
		case c.Entry == nil:
			delete(keys, c.Key)
		default:
			if keys == nil {
				keys = map[string]Entry{}
				m.tables[c.Table] = keys
			}
			keys[c.Key] = *c.Entry
		}
	}
	if m.next[topic] == nil {
		m.next[topic] = map[int]int64{}
	}
	m.next[topic][p] = next
	return nil
}

func (m *memoryDigests) Get(table, key string) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.tables[table][key]
	return e, ok, nil
}

func (m *memoryDigests) Range(table string, fn func(string, Entry) error) error {
	m.mu.Lock()
	keys := make(map[string]Entry, len(m.tables[table]))
	for k, e := range m.tables[table] {
		keys[k] = e
	}
	m.mu.Unlock()
	for k, e := range keys {
		if err := fn(k, e); err != nil {
			return err
		}
	}
	return nil
}

func (m *memoryDigests) Count(table string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.tables[table])), nil
}

// Follower keeps Digests up to date with topics: each CatchUp reads every
// partition from where the Digests say reading stopped up to its high
// watermark. Calls for the same topic are serialised.
type Follower struct {
	topics  *topicReader
	digests Digests
	source  string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// CatchUpResult says what one CatchUp of a topic found.
type CatchUpResult struct {
	Exists   bool  // the topic exists
	Messages int64 // events applied (tombstones not counted)
	// Lost counts messages deleted by retention before they were read:
	// keys whose last event was among them are missing from the state.
	Lost int64
}

// CatchUp brings the state up to topic's high watermarks as of now.
// Events of other sources (a topic several sources' mappings share) are
// skipped.
func (f *Follower) CatchUp(ctx context.Context, topic string) (CatchUpResult, error) {
	f.mu.Lock()
	l := f.locks[topic]
	if l == nil {
		l = &sync.Mutex{}
		f.locks[topic] = l
	}
	f.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	return f.topics.catchUp(ctx, topic, f.source, f.digests)
}

// Digests is the state the follower keeps.
func (f *Follower) Digests() Digests { return f.digests }
