package checkpoints

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

func TestTracker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ops  []op
	}{
		{
			name: "acks in order",
			ops: []op{
				add(3), bound("t1"), add(2), bound("t2"),
				want(""), inFlight(5),
				ack(1), want(""), notified(false),
				ack(2, 3), notified(true), want("t1"), want(""), inFlight(2),
				ack(4), want(""),
				ack(5), notified(true), want("t2"), inFlight(0),
			},
		},
		{
			name: "acks in reverse",
			ops: []op{
				add(2), bound("a"), add(2), bound("b"),
				ack(4, 3), want(""), inFlight(2), notified(false),
				ack(2), want(""),
				ack(1), notified(true), want("b"), want(""), inFlight(0),
			},
		},
		{
			name: "acks interleaved across partitions",
			ops: []op{
				add(2), bound("a"), add(2), bound("b"), add(2), bound("c"),
				ack(2), ack(4, 6), want(""), inFlight(3),
				ack(1), want("a"),
				ack(5), want(""),
				ack(3), want("c"), inFlight(0),
			},
		},
		{
			name: "boundaries with no messages are committable at once",
			ops: []op{
				bound("empty1"), notified(true), want("empty1"),
				bound("empty2"), bound("empty3"), notified(true), want("empty3"), want(""),
				add(1), ack(1), bound("after-acked"), notified(true), want("after-acked"),
			},
		},
		{
			name: "filtered transactions wait for earlier messages",
			ops: []op{
				add(1), bound("a"), bound("filtered1"), bound("filtered2"),
				want(""), notified(false),
				ack(1), notified(true), want("filtered2"), want(""),
			},
		},
		{
			name: "messages after the last boundary do not hold it back",
			ops: []op{
				add(2), bound("a"), add(3),
				ack(1, 2), want("a"), inFlight(3),
				ack(3, 4, 5), want(""), bound("b"), want("b"),
			},
		},
		{
			name: "duplicate acks are ignored",
			ops: []op{
				add(2), bound("a"),
				ack(1), ack(1), ack(1, 1), inFlight(1), want(""),
				ack(2, 2), inFlight(0), want("a"),
				ack(2, 1), inFlight(0), want(""),
				add(1), inFlight(1), bound("b"), want(""), ack(3), want("b"),
			},
		},
		{
			name: "unknown acks are ignored, even once the seq exists",
			ops: []op{
				ack(0, 1, 7), inFlight(0), want(""),
				add(1), ack(2, 0), inFlight(1), bound("a"), want(""),
				add(1), inFlight(2), bound("b"),
				ack(1), want("a"), inFlight(1),
				ack(2), want("b"),
			},
		},
		{
			name: "each boundary is returned once",
			ops: []op{
				add(1), bound("a"), ack(1), want("a"), want(""), want(""),
				notified(false), inFlight(0),
			},
		},
		{
			name: "empty tracker has nothing committable",
			ops:  []op{want(""), inFlight(0), notified(false)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range []*Tracker{NewTracker(), new(Tracker)} {
				for _, o := range tt.ops {
					o(t, tr)
				}
			}
		})
	}
}

func TestTrackerWaitBelow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		added   int
		limit   int
		cancel  bool
		wantErr error
	}{
		{name: "below limit returns at once", added: 1, limit: 2},
		{name: "empty tracker", added: 0, limit: 1},
		{name: "cancelled while at limit", added: 2, limit: 2, cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker()
			for range tt.added {
				tr.Add(1)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			if err := tr.WaitBelow(ctx, tt.limit, 0); !errors.Is(err, tt.wantErr) {
				t.Fatalf("WaitBelow() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestTrackerWaitBelowRejectsNonPositiveLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{0, -1} {
		if err := NewTracker().WaitBelow(t.Context(), limit, 0); err == nil {
			t.Errorf("WaitBelow(limit=%d) = nil, want error", limit)
		}
	}
}

// TestTrackerWaitBelowWakesOnAck checks that a blocked WaitBelow is woken by
// Ack itself: the waiter is known to be parked (it registered its wake
// channel) before the ack is sent.
func TestTrackerWaitBelowWakesOnAck(t *testing.T) {
	t.Parallel()
	tr := NewTracker()
	for range 3 {
		tr.Add(1)
	}
	done := make(chan error, 1)
	go func() { done <- tr.WaitBelow(t.Context(), 2, 0) }()

	waitUntil(t, func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.wake != nil })
	tr.Ack([]uint64{3}) // 2 in flight: still not below 2
	tr.Ack([]uint64{3}) // duplicate: no change
	select {
	case err := <-done:
		t.Fatalf("WaitBelow returned %v with 2 in flight, limit 2", err)
	default:
	}
	tr.Ack([]uint64{1})
	if err := <-done; err != nil {
		t.Fatalf("WaitBelow() = %v", err)
	}
}

// waitUntil yields until cond holds; it synchronises on state, not time.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

// TestTrackerWaitBelowBytes checks the byte budget: sizes count until their
// message is acked (once, whatever the duplicates), and one message larger
// than the budget still goes once nothing else is in flight.
func TestTrackerWaitBelowBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		sizes      []int
		acks       []uint64
		limitBytes int64
		wantBytes  int64
		wantWait   bool // WaitBelow(ctx, 100, limitBytes) blocks
	}{
		{name: "below the budget", sizes: []int{10, 20}, limitBytes: 31, wantBytes: 30},
		{name: "at the budget", sizes: []int{10, 20}, limitBytes: 30, wantBytes: 30, wantWait: true},
		{name: "acked sizes leave", sizes: []int{10, 20}, acks: []uint64{2, 2}, limitBytes: 30, wantBytes: 10},
		{name: "acked out of order", sizes: []int{10, 20, 5}, acks: []uint64{3, 1}, limitBytes: 21, wantBytes: 20, wantWait: false},
		{name: "an oversized message alone goes", sizes: []int{1 << 20}, acks: []uint64{1}, limitBytes: 1024, wantBytes: 0},
		{name: "no byte budget", sizes: []int{1 << 30}, limitBytes: 0, wantBytes: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker()
			for _, n := range tt.sizes {
				tr.Add(n)
			}
			tr.Ack(tt.acks)
			if got := tr.InFlightBytes(); got != tt.wantBytes {
				t.Errorf("InFlightBytes() = %d, want %d", got, tt.wantBytes)
			}
			ctx, cancel := context.WithCancel(t.Context())
			if tt.wantWait {
				cancel() // a wait that would block returns the cancellation
			}
			defer cancel()
			err := tr.WaitBelow(ctx, 100, tt.limitBytes)
			if blocked := errors.Is(err, context.Canceled); blocked != tt.wantWait {
				t.Errorf("WaitBelow(100, %d) = %v, want blocking %v", tt.limitBytes, err, tt.wantWait)
			}
		})
	}
}
