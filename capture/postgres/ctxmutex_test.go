package postgres

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A waiter gives up when its context ends while another holds the lock,
// and gets it once the holder lets go.
func TestCtxMutexWaitHonoursContext(t *testing.T) {
	var m ctxMutex
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := m.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v, want the context's deadline", err)
	}
	m.Unlock()
	if err := m.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	m.Unlock()
}
