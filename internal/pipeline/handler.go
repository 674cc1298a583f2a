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
)

// flushAt is how many encoded messages the handler gathers before handing
// them to the sink inside one large transaction; commits flush earlier.
const flushAt = 512

// handler is the capture → transform → sink leg of one pipeline attempt:
// the encoder (internal/encode, shared with replay) turns changes into
// messages, the handler numbers them with the tracker and hands them to the
// sink. It runs on the source's goroutine, so Add and Boundary on the
// tracker happen in source order, as the tracker requires.
type handler struct {
	maxInFlight      int
	maxInFlightBytes int64 // 0: only maxInFlight bounds
	tracker          *checkpoints.Tracker
	sink             sink.Sink
	stats            *Stats
	logger           *slog.Logger
	metrics          *metrics.Source
	enc              *encode.Encoder

	pending []sink.Message
}

var (
	_ capture.Handler = (*handler)(nil)
	_ encode.Output   = (*handler)(nil)
)

func (h *handler) Change(ctx context.Context, c *capture.Change) error {
	if h.atBudget() {
		// Backpressure: memory stays bounded while Kafka is slow or away,
		// and through a transaction of any size: a 1 MiB row takes more of
		// the budget than a 1 KiB one.
		if err := h.flush(ctx); err != nil {
			return err
		}
		if err := h.tracker.WaitBelow(ctx, h.maxInFlight, h.maxInFlightBytes); err != nil {
			return err
		}
	}
	now := time.Now()
	h.metrics.EventRead(now)
	n, err := h.enc.Change(ctx, c, now, h)
	h.stats.EventsBuilt.Add(uint64(n))
	if err != nil {
		return err
	}
	if len(h.pending) >= flushAt {
		return h.flush(ctx)
	}
	return nil
}

// Emit queues one message of the encoder, a dead letter with a warning.
func (h *handler) Emit(o encode.Out) error {
	if o.Kind == encode.KindDeadLetter {
		// The checkpoint waits for the dead letter like for an event.
		h.metrics.Error("dead_letter")
		h.metrics.DeadLetter(metrics.DeadLetterMapping)
		h.logger.Warn("row sent to the dead-letter topic", "table", o.DeadLetter.Table, "rule", o.DeadLetter.Rule,
			"reason", o.DeadLetter.Reason, "id", o.Event.ID, "topic", o.Topic)
	}
	h.add(o.Message)
	return nil
}

func (h *handler) Commit(ctx context.Context, c capture.Commit) error {
	// END is added before the boundary, so the checkpoint waits for it too.
	if err := h.enc.Commit(c.CommitTime, h); err != nil {
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
	return h.enc.Schema(s, h)
}

// atBudget reports whether the events in flight fill either budget.
func (h *handler) atBudget() bool {
	return h.tracker.InFlight() >= h.maxInFlight ||
		(h.maxInFlightBytes > 0 && h.tracker.InFlightBytes() >= h.maxInFlightBytes)
}

func (h *handler) add(m sink.Message) {
	m.Seq = h.tracker.Add(len(m.Key) + len(m.Value))
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
