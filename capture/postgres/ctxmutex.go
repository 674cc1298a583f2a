package postgres

import (
	"context"
	"sync"
)

// ctxMutex is a mutex whose Lock gives up when its context ends. The SQL
// connection's holder may be stuck in a connect or query against a dead
// path for as long as its own deadline; a heartbeat waiting behind it must
// still end with its stream (an ended stream waits for its heartbeat), so
// that the pipeline restarts within the read timeout, not after the other
// caller's deadline. The zero value is unlocked.
type ctxMutex struct {
	once sync.Once
	ch   chan struct{}
}

func (m *ctxMutex) Lock(ctx context.Context) error {
	m.once.Do(func() { m.ch = make(chan struct{}, 1) })
	select {
	case m.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *ctxMutex) Unlock() { <-m.ch }
