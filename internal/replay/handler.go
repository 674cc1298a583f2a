package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/sink"
)

// errReachedEnd stops the source once the commit at or past --to is handled.
var errReachedEnd = errors.New("replay reached --to")

// flushAt is how many messages are gathered before they go to the sink
// inside a large transaction; every commit flushes too.
const flushAt = 512

// handler encodes changes with the pipeline's own encoder (internal/encode:
// build, mapping, masking, format, tombstones), but sends every message to
// one topic and tracks no checkpoint; it asks for no transaction or schema
// records. Rows the mapping dead-letters are not replayed (the
// live stream already wrote their record); each is logged. It runs on the
// source's goroutine; the counters are read by the progress reporter
// concurrently.
type handler struct {
	topic  string
	to     mysqlsource.Position
	sink   sink.Sink
	enc    *encode.Encoder
	logger *slog.Logger

	pending  []sink.Message
	txEvents int // events of the open transaction

	events, tombstonesSent, transactions, deadLetters atomic.Uint64
	written, acked                                    atomic.Uint64
	readPos                                           atomic.Value // string: last commit position read

	firstEvent, lastEvent string // source.position of the first and last event
}

var (
	_ capture.Handler = (*handler)(nil)
	_ encode.Output   = (*handler)(nil)
)

func newHandler(p params) *handler {
	logger := p.logger
	if logger == nil {
		logger = slog.Default()
	}
	enc := p.encoding
	enc.Connector = p.connector
	return &handler{topic: p.topic, to: p.to, enc: encode.New(enc), logger: logger}
}

func (h *handler) Change(ctx context.Context, c *capture.Change) error {
	n, err := h.enc.Change(ctx, c, time.Now(), h)
	if n > 0 {
		// Every event of a change carries the change's position.
		if h.firstEvent == "" {
			h.firstEvent = c.Position
		}
		h.lastEvent = c.Position
	}
	if err != nil {
		return err
	}
	if len(h.pending) >= flushAt {
		return h.flush(ctx)
	}
	return nil
}

// Emit counts and queues one message of the encoder; a dead letter is only
// counted and logged.
func (h *handler) Emit(o encode.Out) error {
	switch o.Kind {
	case encode.KindDeadLetter:
		h.deadLetters.Add(1)
		h.logger.Warn("row the mapping sends to the dead-letter topic: not replayed", "table", o.DeadLetter.Table,
			"rule", o.DeadLetter.Rule, "id", o.Event.ID)
		return nil
	case encode.KindTombstone:
		h.tombstonesSent.Add(1)
	case encode.KindEvent:
		h.events.Add(1)
		h.txEvents++
	}
	h.add(o.Message)
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
