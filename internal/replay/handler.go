package replay

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

// errReachedEnd stops the source once the commit at or past --to is handled.
var errReachedEnd = errors.New("replay reached --to")

// flushAt is how many messages are gathered before they go to the sink
// inside a large transaction; every commit flushes too.
const flushAt = 512

// handler builds events as the pipeline's handler does, but sends them all
// to one topic and tracks no checkpoint. It runs on the source's goroutine;
// the counters are read by the progress reporter concurrently.
type handler struct {
	source, connector, topic string
	tombstones               bool
	to                       mysqlsource.Position
	sink                     sink.Sink

	pending  []sink.Message
	txEvents int // events of the open transaction

	events, tombstonesSent, transactions atomic.Uint64
	written, acked                       atomic.Uint64
	readPos                              atomic.Value // string: last commit position read

	firstEvent, lastEvent string // source.position of the first and last event
}

var _ capture.Handler = (*handler)(nil)

func newHandler(p params) *handler {
	return &handler{source: p.source, connector: p.connector, topic: p.topic, tombstones: p.tombstones, to: p.to}
}

func (h *handler) Change(ctx context.Context, c *capture.Change) error {
	events, err := transform.Build(h.source, h.connector, c, time.Now())
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("transform change at %s: %w", c.EventPosition, err)}
	}
	for i := range events {
		ev := &events[i]
		value, err := ev.AppendJSON(make([]byte, 0, 512))
		if err != nil {
			return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
		}
		key := transform.EncodeKey(ev)
		describe := fmt.Sprintf("%s.%s key %s", ev.Source.Database, ev.Source.Table, key)
		h.add(sink.Message{Key: key, Value: value, Describe: describe})
		if ev.Op == capture.OpDelete && h.tombstones {
			h.add(sink.Message{Key: key, Describe: describe + " (tombstone)"})
			h.tombstonesSent.Add(1)
		}
		h.events.Add(1)
		h.txEvents++
		if h.firstEvent == "" {
			h.firstEvent = ev.Source.Position
		}
		h.lastEvent = ev.Source.Position
	}
	if len(h.pending) >= flushAt {
		return h.flush(ctx)
	}
	return nil
}

// Commit flushes the transaction and ends the replay at the first commit at
// or past --to.
func (h *handler) Commit(ctx context.Context, c capture.Commit) error {
	if h.txEvents > 0 {
		h.transactions.Add(1)
		h.txEvents = 0
	}
	h.readPos.Store(c.Position)
	if err := h.flush(ctx); err != nil {
		return err
	}
	pos, err := mysqlsource.ParsePosition(c.Position)
	if err != nil {
		return err
	}
	if pos.Compare(h.to) >= 0 {
		return errReachedEnd
	}
	return nil
}

func (h *handler) Schema(context.Context, capture.SchemaChange) error {
	return nil // DDL carries no rows; the source follows it with a Commit
}

func (h *handler) add(m sink.Message) {
	m.Topic = h.topic
	m.Seq = h.written.Add(1)
	h.pending = append(h.pending, m)
}

func (h *handler) flush(ctx context.Context) error {
	if len(h.pending) == 0 {
		return nil
	}
	err := h.sink.Write(ctx, h.pending)
	h.pending = h.pending[:0]
	if err != nil {
		return fmt.Errorf("write to kafka: %w", err)
	}
	return nil
}

func (h *handler) summary(p params) Summary {
	s := p.summary()
	s.Events, s.Tombstones, s.Transactions = h.events.Load(), h.tombstonesSent.Load(), h.transactions.Load()
	s.Written, s.Acked = h.written.Load(), h.acked.Load()
	s.FirstEvent, s.LastEvent = h.firstEvent, h.lastEvent
	s.End, _ = h.readPos.Load().(string)
	return s
}
