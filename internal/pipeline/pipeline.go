// Package pipeline is the composition root of one source's loop:
//
//	capture ──changes──▶ transform ──events──▶ sink ──acks──▶ tracker ──▶ checkpoint store
//	   ▲                                                                      │
//	   └──────────────────── resume position on (re)start ◀───────────────────┘
//
// A checkpoint moves only past transactions whose every event Kafka acked.
// Any failed write ends the attempt; the supervisor restarts it from the
// last committed checkpoint (retryable errors) or stops the source
// (permanent ones). Kafka may therefore see an event twice, never miss one.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Config is what one pipeline needs besides its parts.
type Config struct {
	Source      string // configured source name
	Connector   string // the source's kind: transform.ConnectorMySQL, …
	TopicPrefix string
	Tombstones  bool
	MaxInFlight int
	// MaxInFlightBytes bounds the encoded bytes (keys and values) of those
	// events (0: no byte bound).
	MaxInFlightBytes   int64
	CheckpointInterval time.Duration
	RestartBackoffMin  time.Duration
	RestartBackoffMax  time.Duration
	ShutdownTimeout    time.Duration
	// StallAfter is how long the server may write past the checkpoint while
	// the checkpoint stays put before the source counts as stalled (0: 2m).
	StallAfter time.Duration
	// Metrics receives this source's state, checkpoints and failures; nil
	// is allowed.
	Metrics *metrics.Source
	// Mapper renames, masks, casts, filters and routes events (nil: none).
	// Rows it cannot transform go to DeadLetterTopic, or stop the source
	// when that is empty.
	Mapper          *mapping.Mapper
	DeadLetterTopic string
	// Debezium, when set, writes Debezium's envelope instead of the
	// native event (mapped tables stay native).
	Debezium *debezium.Options
	// Registry, when set, writes Avro in the Confluent wire format
	// (format: avro), with schemas registered there.
	Registry     encode.Registrar
	AvroDebezium *debezium.Options // with Registry: Debezium's Avro envelope
	// TransactionTopic, when set, receives a BEGIN record before the first
	// event of each source transaction that has events and an END record
	// with per-table event counts at its commit (docs/events.md).
	TransactionTopic string
	// SchemaChangeTopic, when set, receives a record for each schema
	// change the source reports.
	SchemaChangeTopic string
	// BeforeCheckpoint, when set, runs before each checkpoint commit:
	// state the source keeps beside the checkpoints for the events up to
	// it (the PostgreSQL TOAST cache) must be durable first. An error
	// fails the commit.
	BeforeCheckpoint func() error
}

// Pipeline runs one source into the sink, restarting after failures.
type Pipeline struct {
	cfg       Config
	newSource func() (capture.Source, error)
	newSink   func(sink.AckFunc) (sink.Sink, error)
	store     checkpoints.Store
	logger    *slog.Logger
	Stats     Stats

	srcMu sync.Mutex
	src   capture.Source // the current attempt's source; nil between attempts

	// stall outlives attempts: a restart from the same checkpoint does not
	// make a stalled source ready (only a checkpoint that moves does).
	// Only the running attempt's lagLoop touches it.
	stall stallDetector
}

// ErrNotRunning means the source has no running attempt to take a request
// (it is starting, backing off after a failure, or stopped): retry later.
var ErrNotRunning = errors.New("the source is not streaming right now")

// ErrUnsupported means the source's kind cannot do what was asked.
var ErrUnsupported = errors.New("not supported by this source")

// RequestSnapshot asks the current attempt's source to re-send tables
// ("db.table") while it keeps streaming (capture.Snapshotter). The request
// is durable once a checkpoint carrying it is committed; before that, a
// crash or restart loses it.
func (p *Pipeline) RequestSnapshot(tables []string) error {
	p.srcMu.Lock()
	src := p.src
	p.srcMu.Unlock()
	if src == nil {
		return fmt.Errorf("source %s: %w (state %s); retry when it streams", p.cfg.Source, ErrNotRunning, p.cfg.Metrics.State())
	}
	sn, ok := src.(capture.Snapshotter)
	if !ok {
		return fmt.Errorf("source %s: %w: on-demand snapshots", p.cfg.Source, ErrUnsupported)
	}
	return sn.RequestSnapshot(tables)
}

// SnapshotProgress returns the current attempt's snapshot progress per
// table (capture.SnapshotReporter), or nil between attempts and for sources
// that report none. Safe to call while Run runs.
func (p *Pipeline) SnapshotProgress() []capture.TableProgress {
	p.srcMu.Lock()
	src := p.src
	p.srcMu.Unlock()
	if sr, ok := src.(capture.SnapshotReporter); ok {
		return sr.SnapshotProgress()
	}
	return nil
}

func (p *Pipeline) setSource(src capture.Source) {
	p.srcMu.Lock()
	p.src = src
	p.srcMu.Unlock()
}

// New returns a pipeline. newSource and newSink are called once per attempt
// so that every restart begins with fresh connections and an empty sink.
func New(cfg Config, newSource func() (capture.Source, error), newSink func(sink.AckFunc) (sink.Sink, error), store checkpoints.Store, logger *slog.Logger) *Pipeline {
	return &Pipeline{cfg: cfg, newSource: newSource, newSink: newSink, store: store,
		logger: logger.With("source", cfg.Source)}
}

// Run streams until ctx is cancelled (returning nil after a graceful stop)
// or a permanent error stops the source (returning it).
func (p *Pipeline) Run(ctx context.Context) error {
	m := p.cfg.Metrics
	backoff := p.cfg.RestartBackoffMin
	for {
		started := time.Now()
		err := p.attempt(ctx)
		if ctx.Err() != nil {
			m.SetState(metrics.StateStopped, nil)
			return nil
		}
		if err == nil {
			err = errors.New("source stream ended unexpectedly")
		}
		if IsPermanent(err) {
			m.Error(metrics.KindPermanent)
			m.SetState(metrics.StateFailed, err)
			p.logger.Error("source stopped: fix the cause, then restart tributary", "err", err)
			return err
		}
		kind := failureKind(err)
		m.Error(kind)
		m.Retry(kind)
		m.SetState(metrics.StateBackoff, err)
		if time.Since(started) > 2*p.cfg.RestartBackoffMax {
			backoff = p.cfg.RestartBackoffMin // it ran fine for a while
		}
		p.Stats.Restarts.Add(1)
		p.logger.Warn("pipeline failed; restarting from the last checkpoint", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			m.SetState(metrics.StateStopped, nil)
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.RestartBackoffMax)
	}
}

// kindError labels a failure with where it started, for metrics.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

func withKind(kind string, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// failureKind is the metrics kind of err: kafka, checkpoint or source.
func failureKind(err error) string {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return metrics.KindSource
}

// IsPermanent reports whether err cannot be fixed by restarting.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// attempt is one run from the committed checkpoint until failure or stop.
func (p *Pipeline) attempt(ctx context.Context) error {
	m := p.cfg.Metrics
	m.SetState(metrics.StateStarting, nil)
	defer m.SetInFlight(0) // this attempt's tracker is discarded
	src, err := p.newSource()
	if err != nil {
		return fmt.Errorf("create source: %w", err)
	}
	defer src.Close()
	defer p.setSource(nil)

	from, err := p.resumePosition(ctx, src)
	if err != nil {
		return err
	}

	tracker := checkpoints.NewTracker()
	streamCtx, stopStream := context.WithCancelCause(ctx)
	defer stopStream(nil)
	var sinkErr sink.FirstError // the sink's first failure ends the attempt
	ack := func(seqs []uint64, err error) {
		if err != nil {
			sinkErr.Record(err)
			stopStream(fmt.Errorf("kafka write failed: %w", err))
			return
		}
		tracker.Ack(seqs)
		p.Stats.MessagesAcked.Add(uint64(len(seqs)))
	}
	snk, err := p.newSink(ack)
	if err != nil {
		return fmt.Errorf("create kafka sink: %w", err)
	}
	defer snk.Close()

	h := &handler{
		maxInFlight: p.cfg.MaxInFlight, maxInFlightBytes: p.cfg.MaxInFlightBytes, tracker: tracker, sink: snk, stats: &p.Stats, logger: p.logger, metrics: m,
		enc: encode.New(encode.Config{
			Source: p.cfg.Source, Connector: p.cfg.Connector, TopicPrefix: p.cfg.TopicPrefix, Tombstones: p.cfg.Tombstones,
			Mapper: p.cfg.Mapper, DeadLetterTopic: p.cfg.DeadLetterTopic, Debezium: p.cfg.Debezium,
			Registry: p.cfg.Registry, AvroDebezium: p.cfg.AvroDebezium, TransactionTopic: p.cfg.TransactionTopic, SchemaChangeTopic: p.cfg.SchemaChangeTopic,
		}),
	}
	p.logger.Info("streaming", "from", from.Position, "snapshot", from.Snapshot)
	m.SetState(metrics.StateStreaming, nil)

	p.setSource(src)
	g, gctx := errgroup.WithContext(streamCtx)
	ho := newHandoff(h)
	g.Go(func() error { return ho.run(gctx) })
	g.Go(func() error {
		err := src.Stream(gctx, from, ho)
		ho.finish(gctx)
		if cause := context.Cause(streamCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause // a sink failure stopped the stream
		}
		return err
	})
	confirm := func(string) {}
	if c, ok := src.(capture.Confirmer); ok {
		confirm = c.Confirm
		if from.Position != "" {
			confirm(from.Position) // already durable: it is the checkpoint we resume from
		}
	}
	g.Go(func() error { return p.checkpointLoop(gctx, tracker, confirm) })
	if lr, ok := src.(capture.LagReporter); ok && p.cfg.Metrics != nil {
		g.Go(func() error { p.lagLoop(gctx, lr, from.Position); return nil })
	}
	if sr, ok := src.(capture.SnapshotReporter); ok && p.cfg.Metrics != nil {
		g.Go(func() error { p.snapshotProgressLoop(gctx, sr); return nil })
	}
	err = g.Wait()

	if ctx.Err() != nil && sinkErr.Err() == nil {
		// Graceful stop: wait for what Kafka still has in flight, then
		// record how far it got.
		flushCtx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
		defer cancel()
		if ferr := snk.Flush(flushCtx); ferr != nil {
			p.logger.Warn("flush on shutdown", "err", ferr)
		}
	}
	// Whatever happened, the committable checkpoint covers only acked events.
	if cerr := p.commit(context.Background(), tracker, confirm); cerr != nil && err == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		return nil
	}
	if serr := sinkErr.Err(); serr != nil {
		err = withKind(metrics.KindKafka, fmt.Errorf("kafka write failed: %w", serr))
	}
	return err
}

// resumePosition is the committed checkpoint, or, on a first start, the
// server's current position, committed before streaming begins.
func (p *Pipeline) resumePosition(ctx context.Context, src capture.Source) (capture.Resume, error) {
	cp, err := p.store.Load(ctx, p.cfg.Source)
	if err == nil {
		p.cfg.Metrics.Checkpoint(cp.Position, cp.Snapshot, cp.CommitTime, cp.SavedAt)
		return capture.Resume{Position: cp.Position, Snapshot: cp.Snapshot}, nil
	}
	if !errors.Is(err, checkpoints.ErrNotFound) {
		return capture.Resume{}, withKind(metrics.KindCheckpoint, fmt.Errorf("load checkpoint: %w", err))
	}
	pos, ok := src.(capture.Positioner)
	if !ok {
		return capture.Resume{}, nil
	}
	current, err := pos.CurrentPosition(ctx)
	if err != nil {
		return capture.Resume{}, fmt.Errorf("read current source position: %w", err)
	}
	now := time.Now()
	initial := checkpoints.Checkpoint{Position: current.Position, Snapshot: current.Snapshot, SavedAt: now}
	if err := p.store.Commit(ctx, p.cfg.Source, initial); err != nil {
		return capture.Resume{}, withKind(metrics.KindCheckpoint, fmt.Errorf("commit initial checkpoint: %w", err))
	}
	p.cfg.Metrics.Checkpoint(current.Position, current.Snapshot, time.Time{}, now)
	p.logger.Info("no checkpoint: starting at the server's current position", "position", current.Position, "snapshot", current.Snapshot)
	return current, nil
}

// checkpointLoop persists the committable checkpoint every interval and
// then confirms it to the source; never the other way round.
func (p *Pipeline) checkpointLoop(ctx context.Context, tracker *checkpoints.Tracker, confirm func(string)) error {
	tick := time.NewTicker(p.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			p.cfg.Metrics.SetInFlight(tracker.InFlight())
			if err := p.commit(ctx, tracker, confirm); err != nil {
				return err
			}
		}
	}
}

// snapshotProgressInterval is how often snapshot progress is copied into
// the metrics.
const snapshotProgressInterval = 2 * time.Second

// snapshotProgressLoop copies the source's snapshot progress per table into
// the metrics (and so into /status) until ctx is done, and once more then.
func (p *Pipeline) snapshotProgressLoop(ctx context.Context, sr capture.SnapshotReporter) {
	tick := time.NewTicker(snapshotProgressInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		for _, t := range sr.SnapshotProgress() {
			p.cfg.Metrics.SnapshotProgress(t.Table, t.RowsDone, t.RowsTotal)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// lagInterval is how often the bytes behind the server are measured.
const lagInterval = 5 * time.Second

// lagLoop reports how far the committed checkpoint is behind the server's
// write position, in bytes, and detects a stall: the server keeps writing
// past the checkpoint while the checkpoint does not move for StallAfter
// (a frozen broker, a stuck sink). A failed measurement is only logged: it
// must not stop capture.
func (p *Pipeline) lagLoop(ctx context.Context, lr capture.LagReporter, from string) {
	tick := time.NewTicker(lagInterval)
	defer tick.Stop()
	for {
		pos, cp := from, checkpoints.Checkpoint{Position: from}
		if c, ok := p.Stats.Checkpoint(); ok {
			pos, cp = c.Position, c
		}
		if pos != "" {
			qctx, cancel := context.WithTimeout(ctx, lagInterval)
			n, err := lr.LagBytes(qctx, pos)
			cancel()
			if err == nil {
				p.cfg.Metrics.SetLagBytes(n)
				p.observeStall(&p.stall, cp, n, time.Now())
			} else if ctx.Err() == nil {
				p.logger.Debug("measure lag", "err", err)
			}
		}
		if rr, ok := lr.(capture.RetentionReporter); ok {
			qctx, cancel := context.WithTimeout(ctx, lagInterval)
			r, err := rr.Retention(qctx)
			cancel()
			if err == nil {
				p.cfg.Metrics.SetRetention(r.RetainedBytes, r.SafeBytes, r.LimitBytes)
			} else if ctx.Err() == nil {
				p.logger.Debug("measure retained log", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// observeStall feeds one lag measurement to the stall detector and reports
// a change of verdict.
func (p *Pipeline) observeStall(d *stallDetector, cp checkpoints.Checkpoint, lagBytes int64, now time.Time) {
	after := p.cfg.StallAfter
	if after <= 0 {
		after = 2 * time.Minute
	}
	was := d.stalled
	if d.observe(cp.Position+"\x00"+cp.Snapshot, lagBytes, now, after) == was {
		return
	}
	p.cfg.Metrics.SetStalled(d.stalled)
	if d.stalled {
		p.logger.Warn("source stalled: the server has written past the checkpoint, but the checkpoint has not moved; nothing reaches Kafka",
			"checkpoint", cp.Position, "lag_bytes", lagBytes, "for", now.Sub(d.since).Round(time.Second).String())
	} else {
		p.logger.Info("source no longer stalled", "checkpoint", cp.Position)
	}
}

func (p *Pipeline) commit(ctx context.Context, tracker *checkpoints.Tracker, confirm func(string)) error {
	cp, ok := tracker.Committable()
	if !ok {
		return nil
	}
	if p.cfg.BeforeCheckpoint != nil {
		if err := p.cfg.BeforeCheckpoint(); err != nil {
			return withKind(metrics.KindCheckpoint, fmt.Errorf("before checkpoint %s: %w", cp.Position, err))
		}
	}
	cp.SavedAt = time.Now()
	if err := p.store.Commit(ctx, p.cfg.Source, cp); err != nil {
		return withKind(metrics.KindCheckpoint, fmt.Errorf("commit checkpoint %s: %w", cp.Position, err))
	}
	p.Stats.lastCheckpoint.Store(cp)
	p.cfg.Metrics.Checkpoint(cp.Position, cp.Snapshot, cp.CommitTime, cp.SavedAt)
	p.logger.Debug("checkpoint", "position", cp.Position, "snapshot", cp.Snapshot, "in_flight", tracker.InFlight())
	confirm(cp.Position) // only after it is durable
	return nil
}
