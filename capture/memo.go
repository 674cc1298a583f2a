package capture

import (
	"context"
	"sync"
)

// TableMemo remembers one value per table (a reader's description of it),
// loading it on first use. Safe for concurrent use; two callers may load
// the same table at once, and the later result is kept.
type TableMemo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// Get returns the value of schema.table, calling load the first time.
func (m *TableMemo[V]) Get(ctx context.Context, schema, table string, load func(ctx context.Context, schema, table string) (V, error)) (V, error) {
	id := schema + "." + table
	m.mu.Lock()
	v, ok := m.m[id]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load(ctx, schema, table)
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if m.m == nil {
		m.m = make(map[string]V)
	}
	m.m[id] = v
	m.mu.Unlock()
	return v, nil
}
