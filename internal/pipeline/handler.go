package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
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
	topicPrefix string
	tombstones  bool
	maxInFlight int
	tracker     *checkpoints.Tracker
	sink        sink.Sink
	stats       *Stats
	logger      *slog.Logger

	topics  map[[2]string]string // (database, table) → topic
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
		ev := &events[i]
		value, err := ev.AppendJSON(make([]byte, 0, 512))
		if err != nil {
			return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
		}
		key := transform.EncodeKey(ev)
		topic := h.topic(ev.Source.Database, ev.Source.Table)
		describe := fmt.Sprintf("%s.%s key %s", ev.Source.Database, ev.Source.Table, key)
		h.add(sink.Message{Topic: topic, Key: key, Value: value, Describe: describe})
		if ev.Op == capture.OpDelete && h.tombstones {
			h.add(sink.Message{Topic: topic, Key: key, Describe: describe + " (tombstone)"})
		}
		h.stats.EventsBuilt.Add(1)
	}
	if len(h.pending) >= flushAt {
		return h.flush(ctx)
	}
	return nil
}

func (h *handler) Commit(ctx context.Context, c capture.Commit) error {
	h.tracker.Boundary(checkpoints.Checkpoint{Position: c.Position, CommitTime: c.CommitTime})
	h.stats.Transactions.Add(1)
	h.stats.lastReadCommit.Store(c.CommitTime.UnixMilli())
	return h.flush(ctx)
}

func (h *handler) Schema(ctx context.Context, s capture.SchemaChange) error {
	h.stats.SchemaChanges.Add(1)
	h.logger.Info("schema change", "database", s.Database, "position", s.Position, "statement", truncate(s.Statement, 200))
	// DDL is its own transaction: the source follows it with a Commit.
	return nil
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

func (h *handler) topic(database, table string) string {
	k := [2]string{database, table}
	t, ok := h.topics[k]
	if !ok {
		t = transform.TopicName(h.topicPrefix, h.source, database, table)
		h.topics[k] = t
	}
	return t
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
