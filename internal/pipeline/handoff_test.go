package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

// TestHandoffHoldsTheSource checks the queue's bounds between the source's
// goroutine and the encoder's: once they are reached, the next handler call
// waits (here: returns the cancelled context's error at once) instead of
// queueing; a single row larger than the byte bound still passes alone.
func TestHandoffHoldsTheSource(t *testing.T) {
	row := func(n int) *capture.Change {
		return &capture.Change{Op: capture.OpCreate, After: []any{int64(1), strings.Repeat("x", n)}}
	}
	tests := []struct {
		name   string
		queued []*capture.Change // put before the queue is full
		next   *capture.Change   // held
	}{
		{"count bound", repeat(row(10), handoffItems), row(10)},
		{"byte bound", []*capture.Change{row(handoffBytes * 3 / 4)}, row(handoffBytes / 2)},
		{"a row over the byte bound waits alone", []*capture.Change{row(10 << 20)}, row(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandoff(nil) // no run: nothing takes the queue
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			for i, c := range tt.queued {
				// Room left: a put does not wait, so not even a cancelled
				// context stops it.
				if err := h.Change(cancelled, c); err != nil {
					t.Fatalf("change %d of %d: %v", i+1, len(tt.queued), err)
				}
			}
			if err := h.Change(cancelled, tt.next); !errors.Is(err, context.Canceled) {
				t.Fatalf("change after a full queue = %v, want it held until the context ends", err)
			}
			if got := len(h.queued); got != len(tt.queued) {
				t.Errorf("%d items queued, want %d", got, len(tt.queued))
			}
		})
	}
}

func repeat(c *capture.Change, n int) []*capture.Change {
	out := make([]*capture.Change, n)
	for i := range out {
		out[i] = c
	}
	return out
}
