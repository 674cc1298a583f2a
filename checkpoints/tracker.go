package checkpoints

import (
	"context"
	"fmt"
	"sync"
)

// Tracker is the in-flight watermark between a source and a sink. It answers
// one question: which source position is safe to persist? The committed
// position is the highest transaction boundary whose events, and all events
// before it, have been acked by the sink (Kafka). Persisting anything newer
// could lose events on restart; persisting anything older only replays
// events that were already delivered.
//
// Contract:
//   - Add and Boundary are called from a single goroutine, in source order:
//     Add for every message handed to the sink, Boundary at every source
//     transaction boundary. Boundary(cp) means every message added so far
//     belongs to transactions at or before cp.
//   - Ack may be called from any goroutine, with sequence numbers in any
//     order. Sequence numbers that were never returned by Add, or that were
//     already acked, are ignored.
//   - Committable returns each committable boundary at most once, so the
//     caller persists each one once, and only ever moves forward.
//
// All methods are safe for concurrent use. Add, Ack (per sequence number),
// Boundary and Committable are O(1) amortised. The zero value is ready to use.
type Tracker struct {
	mu sync.Mutex

	added uint64 // highest sequence number returned by Add
	done  uint64 // every sequence number <= done has been acked
	// acked[i] is seq done+1+i: whether it has been acked, and its size;
	// its length is always added-done.
	acked        ring[slot]
	unacked      int   // number of entries in acked not acked yet
	unackedBytes int64 // their sizes summed

	// bounds holds boundaries not yet returned by Committable, oldest first,
	// with strictly increasing upTo.
	bounds ring[boundary]

	notify chan struct{} // buffered 1; created lazily
	wake   chan struct{} // closed when unacked drops; nil without waiters
}

// slot is one message added to the tracker.
type slot struct {
	acked bool
	size  int64
}

// boundary is a transaction boundary: cp is committable once every
// sequence number <= upTo has been acked.
type boundary struct {
	upTo uint64
	cp   Checkpoint
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{notify: make(chan struct{}, 1)}
}

// Add registers one message of size bytes handed to the sink and returns
// its sequence number: 1 for the first call, then increasing by one. Call it
// from the pipeline goroutine only, before the message can possibly be
// acked. The size only counts towards InFlightBytes.
func (t *Tracker) Add(size int) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.added++
	t.acked.PushBack(slot{size: int64(size)})
	t.unacked++
	t.unackedBytes += int64(size)
	return t.added
}

// Boundary records a source transaction boundary after all messages added so
// far. If those messages are all acked already (including when none were
// added, e.g. a transaction whose rows were all filtered out), cp is
// committable at once and Notify is signalled. Call it from the pipeline
// goroutine only.
func (t *Tracker) Boundary(cp Checkpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Consecutive boundaries with no message between them share one entry:
	// only the newest can matter, and it keeps bounds no longer than the
	// number of in-flight messages plus one.
	if t.bounds.Len() > 0 && t.bounds.Back().upTo == t.added {
		t.bounds.Back().cp = cp
	} else {
		t.bounds.PushBack(boundary{upTo: t.added, cp: cp})
	}
	if t.added <= t.done {
		t.signal()
	}
}

// Ack marks sequence numbers as delivered by the sink. Unknown and duplicate
// sequence numbers are ignored. When the watermark moves past a boundary,
// Notify is signalled; when InFlight drops, WaitBelow callers wake.
func (t *Tracker) Ack(seqs []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	before, unackedBefore := t.done, t.unacked
	for _, seq := range seqs {
		if seq <= t.done || seq > t.added {
			continue
		}
		s := t.acked.At(int(seq - t.done - 1))
		if s.acked {
			continue
		}
		s.acked = true
		t.unacked--
		t.unackedBytes -= s.size
		for t.acked.Len() > 0 && t.acked.Front().acked {
			t.acked.PopFront()
			t.done++
		}
	}
	if t.done != before && t.bounds.Len() > 0 && t.bounds.Front().upTo <= t.done {
		t.signal()
	}
	if t.unacked != unackedBefore && t.wake != nil {
		close(t.wake)
		t.wake = nil
	}
}

// Committable returns the highest boundary whose messages, and all messages
// before them, have been acked, and true if it is newer than any boundary
// Committable returned before. Otherwise it returns the zero Checkpoint and
// false. Boundaries older than the returned one are discarded, and a pending
// Notify signal is consumed, since it announced what this call returns.
func (t *Tracker) Committable() (Checkpoint, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.notify: // a nil channel (zero Tracker) is never ready
	default:
	}
	var (
		cp Checkpoint
		ok bool
	)
	for t.bounds.Len() > 0 && t.bounds.Front().upTo <= t.done {
		cp, ok = t.bounds.PopFront().cp, true
	}
	return cp, ok
}

// InFlight reports the number of messages added but not yet acked.
func (t *Tracker) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unacked
}

// InFlightBytes reports the sizes of the messages added but not yet acked,
// summed.
func (t *Tracker) InFlightBytes() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unackedBytes
}

// Notify returns a channel, buffered with capacity one, that receives a
// value whenever a boundary may have become committable. Signals coalesce:
// after a receive, call Committable, which returns everything pending and
// consumes a signal that is still pending. With several goroutines calling
// Committable, a signal may find nothing new. The same channel is returned
// on every call.
func (t *Tracker) Notify() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initNotify()
	return t.notify
}

// WaitBelow blocks until InFlight() < limit and, with limitBytes > 0,
// InFlightBytes() < limitBytes, or ctx is done, in which case it returns
// ctx.Err(). A message larger than limitBytes therefore still goes, once
// everything before it was acked. It is woken by Ack, never by polling.
// limit must be positive.
func (t *Tracker) WaitBelow(ctx context.Context, limit int, limitBytes int64) error {
	if limit <= 0 {
		return fmt.Errorf("wait below %d in-flight messages: limit must be positive", limit)
	}
	for {
		t.mu.Lock()
		if t.unacked < limit && (limitBytes <= 0 || t.unackedBytes < limitBytes) {
			t.mu.Unlock()
			return nil
		}
		if t.wake == nil {
			t.wake = make(chan struct{})
		}
		wake := t.wake
		t.mu.Unlock()

		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signal wakes a Notify receiver without blocking. t.mu must be held.
func (t *Tracker) signal() {
	t.initNotify()
	select {
	case t.notify <- struct{}{}:
	default: // a signal is already pending
	}
}

func (t *Tracker) initNotify() {
	if t.notify == nil {
		t.notify = make(chan struct{}, 1)
	}
}
