package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/tributary-cdc/tributary/capture"
)

// The hand-off's bounds: at most handoffItems changes or handoffBytes of
// row values wait between the two goroutines (a single larger row waits
// alone), on top of the sink's in-flight budget.
const (
	handoffItems = 1024
	handoffBytes = 2 << 20
)

// handoff runs decoding and encoding on two goroutines, so that a source
// uses both cores of a small machine: the source's Stream calls it as its
// Handler on the source's goroutine (decoding), and run passes what it
// queued, in the same order, to the handler on another (encoding, the
// tracker and the sink). One queue and one consumer keep source order, so
// the tracker still sees Add and Boundary in source order and the
// checkpoint stays exact. run takes everything queued at once whenever it
// is free: batches grow with the load and add no wait when idle. Sources
// hand over fresh changes (capture.Handler), so nothing is copied.
//
// An error of the handler ends run; the attempt's errgroup then cancels the
// source, whose next call returns the context's error. What is still queued
// then was never handed to the sink, and no checkpoint covers it.
type handoff struct {
	out *handler

	mu     sync.Mutex
	queued []handoffItem
	bytes  int64
	spare  []handoffItem // run's last batch, emptied, for reuse
	ended  bool          // the source's Stream returned

	wake    chan struct{} // 1 slot: queued became non-empty, or ended
	room    chan struct{} // 1 slot: run took the queue
	drained chan struct{} // closed when run returns
}

type handoffItem struct {
	change *capture.Change       // a row change, or
	schema *capture.SchemaChange // a schema change, or (both nil)
	commit capture.Commit        // a transaction's end
}

var _ capture.Handler = (*handoff)(nil)

func newHandoff(out *handler) *handoff {
	return &handoff{out: out, wake: make(chan struct{}, 1), room: make(chan struct{}, 1),
		drained: make(chan struct{})}
}

func (h *handoff) Change(ctx context.Context, c *capture.Change) error {
	return h.put(ctx, handoffItem{change: c}, 64+rowBytes(c.Before)+rowBytes(c.After))
}

func (h *handoff) Commit(ctx context.Context, c capture.Commit) error {
	return h.put(ctx, handoffItem{commit: c}, 0)
}

func (h *handoff) Schema(ctx context.Context, s capture.SchemaChange) error {
	return h.put(ctx, handoffItem{schema: &s}, int64(len(s.Statement)))
}

// put queues it, waiting while the queue is full.
func (h *handoff) put(ctx context.Context, it handoffItem, size int64) error {
	for {
		h.mu.Lock()
		if n := len(h.queued); n == 0 || (n < handoffItems && h.bytes+size <= handoffBytes) {
			h.queued = append(h.queued, it)
			h.bytes += size
			h.mu.Unlock()
			if n == 0 {
				signal(h.wake)
			}
			return nil
		}
		h.mu.Unlock()
		select {
		case <-h.room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish ends the queue after the source's Stream returned and waits until
// run passed on what was queued (complete transactions are delivered and
// checkpointed even when the stream failed after them), or ctx is done.
func (h *handoff) finish(ctx context.Context) {
	h.mu.Lock()
	h.ended = true
	h.mu.Unlock()
	signal(h.wake)
	select {
	case <-h.drained:
	case <-ctx.Done():
	}
}

// run passes the queued items to the handler until the queue ends (nil),
// ctx is done (nil: the errgroup knows why) or the handler fails.
func (h *handoff) run(ctx context.Context) error {
	defer close(h.drained)
	for {
		select {
		case <-h.wake:
		case <-ctx.Done():
			return nil
		}
		h.mu.Lock()
		batch, ended := h.queued, h.ended
		h.queued, h.bytes, h.spare = h.spare, 0, nil
		h.mu.Unlock()
		signal(h.room)

		for _, it := range batch {
			var err error
			switch {
			case it.change != nil:
				if err = h.out.Change(ctx, it.change); err != nil {
					err = fmt.Errorf("handle change at %s row %d: %w", it.change.EventPosition, it.change.RowIndex, err)
				}
			case it.schema != nil:
				err = h.out.Schema(ctx, *it.schema)
			default:
				err = h.out.Commit(ctx, it.commit)
			}
			if err != nil {
				return err
			}
		}
		if ended {
			return nil // nothing is queued after the end
		}
		clear(batch) // let the changes go
		h.mu.Lock()
		h.spare = batch[:0]
		h.mu.Unlock()
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// rowBytes estimates what a row's values hold in memory: their variable
// parts and a word pair per column.
func rowBytes(values []any) int64 {
	n := int64(16 * len(values))
	for _, v := range values {
		switch v := v.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		case json.RawMessage:
			n += int64(len(v))
		case []string:
			for _, s := range v {
				n += int64(16 + len(s))
			}
		}
	}
	return n
}
