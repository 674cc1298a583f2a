package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
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
	metrics     *metrics.Source

	mapper          *mapping.Mapper // nil: events pass unmapped
	deadLetterTopic string          // "" : rows a mapping cannot transform stop the source
	outs            []mapping.Output
	dbz             *debezium.Encoder // nil: native events

	txTopic     string // "": no transaction metadata records
	tx          txMeta
	schemaTopic string // "": schema changes are only logged

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

// emit maps one event of c (when a mapping matches its table), encodes it
// and queues it, with a tombstone after a delete.
func (h *handler) emit(ev *transform.Event, c *capture.Change) error {
	if h.mapper != nil {
		outs, mapped, err := h.mapper.Apply(h.outs[:0], h.source, ev)
		h.outs = outs
		var rowErr *mapping.RowError
		switch {
		case errors.As(err, &rowErr) && h.deadLetterTopic != "":
			// Never a silent drop: the row goes to the dead-letter topic,
			// masked like normal output, and the checkpoint waits for it.
			h.add(sink.Message{Topic: h.deadLetterTopic, Key: mapping.DeadLetterKey(ev, rowErr),
				Value: mapping.DeadLetter(ev, rowErr), Describe: rowErr.Table + " dead letter (" + rowErr.Rule + ")"})
			h.metrics.Error("dead_letter")
			h.logger.Warn("row sent to the dead-letter topic", "table", rowErr.Table, "rule", rowErr.Rule,
				"reason", rowErr.Reason, "id", ev.ID, "topic", h.deadLetterTopic)
			return nil
		case err != nil:
			return &capture.PermanentError{Err: fmt.Errorf("map event %s: %w (set kafka.dead_letter_topic to send such rows there)", ev.ID, err)}
		case mapped:
			for j := range outs {
				o := &outs[j]
				value, err := o.AppendJSON(nil)
				if err != nil {
					return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
				}
				topic := o.Topic
				if topic == "" {
					topic = h.topic(ev.Source.Database, ev.Source.Table)
				}
				if err := h.queue(c, topic, o.Key, value, &o.Event); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if h.dbz != nil {
		if ev.Op == capture.OpTruncate {
			return nil // Debezium's connectors skip truncates by default
		}
		key, value, err := h.dbz.Encode(ev, c.Table)
		if err != nil {
			return &capture.PermanentError{Err: fmt.Errorf("encode event %s as Debezium JSON: %w", ev.ID, err)}
		}
		return h.queue(c, h.topic(ev.Source.Database, ev.Source.Table), key, value, ev)
	}
	value, err := ev.AppendJSON(nil) // AppendJSON sizes the buffer
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
	}
	return h.queue(c, h.topic(ev.Source.Database, ev.Source.Table), transform.EncodeKey(ev), value, ev)
}

// queue adds one event message of c, after its transaction's BEGIN record
// when it is the first.
func (h *handler) queue(c *capture.Change, topic string, key, value []byte, ev *transform.Event) error {
	if err := h.txEvent(c); err != nil {
		return err
	}
	describe := ev.Source.Database + "." + ev.Source.Table + " key " + string(key)
	h.add(sink.Message{Topic: topic, Key: key, Value: value, Describe: describe})
	if ev.Op == capture.OpDelete && h.tombstones {
		h.add(sink.Message{Topic: topic, Key: key, Describe: describe + " (tombstone)"})
	}
	return nil
}

func (h *handler) Commit(ctx context.Context, c capture.Commit) error {
	// END is added before the boundary, so the checkpoint waits for it too.
	if err := h.txEnd(c.CommitTime); err != nil {
		return err
	}
	h.tracker.Boundary(checkpoints.Checkpoint{Position: c.Position, CommitTime: c.CommitTime})
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
