package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

// flushAt is how many encoded messages the handler gathers before handing
// them to the sink inside one large transaction; commits flush earlier.
const flushAt = 512

// handler is the capture → transform → sink leg of one pipeline attempt. It
// runs on the source's goroutine, so Add and Boundary on the tracker happen
// in source order, as the tracker requires.
type handler struct {
	source      string
	connector   string
	maxInFlight int
	tracker     *checkpoints.Tracker
	sink        sink.Sink
	stats       *Stats
	logger      *slog.Logger
	metrics     *metrics.Source
	enc         *encode.Encoder

	txTopic     string // "": no transaction metadata records
	tx          txMeta
	schemaTopic string // "": schema changes are only logged

	pending []sink.Message
}

var _ capture.Handler = (*handler)(nil)

func (h *handler) Change(ctx context.Context, c *capture.Change) error {
	if h.tracker.InFlight() >= h.maxInFlight {
		// Backpressure: memory stays bounded while Kafka is slow or away.
		if err := h.flush(ctx); err != nil {
			return err
		}
		if err := h.tracker.WaitBelow(ctx, h.maxInFlight); err != nil {
			return err
		}
	}
	events, err := transform.Build(h.source, h.connector, c, time.Now())
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("transform change at %s: %w", c.EventPosition, err)}
	}
	for i := range events {
		if err := h.emit(&events[i], c); err != nil {
			return err
		}
		h.stats.EventsBuilt.Add(1)
	}
	if len(h.pending) >= flushAt {
		return h.flush(ctx)
	}
	return nil
}

// emit encodes one event of c (internal/encode, shared with replay) and
// queues its messages: an event message after its transaction's BEGIN
// record when it is the first, a dead letter with a warning.
func (h *handler) emit(ev *transform.Event, c *capture.Change) error {
	return h.enc.Encode(ev, c.Table, func(o encode.Out) error {
		switch {
		case o.DeadLetter != nil:
			// The checkpoint waits for the dead letter like for an event.
			h.metrics.Error("dead_letter")
			h.logger.Warn("row sent to the dead-letter topic", "table", o.DeadLetter.Table, "rule", o.DeadLetter.Rule,
				"reason", o.DeadLetter.Reason, "id", ev.ID, "topic", o.Topic)
		case !o.Tombstone:
			if err := h.txEvent(c); err != nil {
				return err
			}
		}
		h.add(o.Message)
		return nil
	})
}

func (h *handler) Commit(ctx context.Context, c capture.Commit) error {
	// END is added before the boundary, so the checkpoint waits for it too.
	if err := h.txEnd(c.CommitTime); err != nil {
		return err
	}
	h.tracker.Boundary(checkpoints.Checkpoint{Position: c.Position, Snapshot: c.Snapshot, CommitTime: c.CommitTime})
	h.stats.Transactions.Add(1)
	h.stats.lastReadCommit.Store(c.CommitTime.UnixMilli())
	return h.flush(ctx)
}

func (h *handler) Schema(ctx context.Context, s capture.SchemaChange) error {
	h.stats.SchemaChanges.Add(1)
	h.logger.Info("schema change", "database", s.Database, "position", s.Position, "statement", truncate(s.Statement, 200))
	// A Commit follows (MySQL DDL is its own transaction; a PostgreSQL
	// relation change arrives inside the transaction that first uses it), so
	// the checkpoint covers the record.
	return h.schemaChange(s)
}

func (h *handler) add(m sink.Message) {
	m.Seq = h.tracker.Add()
	h.pending = append(h.pending, m)
}

func (h *handler) flush(ctx context.Context) error {
	if len(h.pending) == 0 {
		return nil
	}
	err := h.sink.Write(ctx, h.pending)
	h.pending = h.pending[:0]
	if err != nil {
		return withKind(metrics.KindKafka, fmt.Errorf("write to kafka: %w", err))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Stats are a pipeline's counters, kept across restarts.
type Stats struct {
	EventsBuilt    atomic.Uint64
	MessagesAcked  atomic.Uint64
	Transactions   atomic.Uint64
	SchemaChanges  atomic.Uint64
	Restarts       atomic.Uint64
	lastReadCommit atomic.Int64 // source commit time (ms) of the last transaction read
	lastCheckpoint atomic.Value // checkpoints.Checkpoint
}

// Checkpoint returns the last checkpoint this process committed.
func (s *Stats) Checkpoint() (checkpoints.Checkpoint, bool) {
	cp, ok := s.lastCheckpoint.Load().(checkpoints.Checkpoint)
	return cp, ok
}
