package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	metadataAPI "github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/tributary-cdc/tributary/sink"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("kafka sink is closed")

// Sink writes to Kafka through one asynchronous kafka.Writer per topic (so
// each topic's batches respect that topic's max.message.bytes). It is safe
// for concurrent use. See the package doc for ordering and failure
// semantics.
type Sink struct {
	cfg       Config
	ack       sink.AckFunc
	log       *slog.Logger
	codec     kafka.Compression
	transport *kafka.Transport
	client    *kafka.Client
	inflight  *inflight
	metrics   Metrics
	gate      func() error   // asked before every produce request (WithProduceGate)
	headers   []kafka.Header // added to every message (WithHeaders)

	topicMu sync.Mutex // serialises topic lookups and creation

	mu     sync.Mutex // guards the fields below
	topics map[string]*topicWriter
	failed error
	fused  error // a produce failed: see fuseTransport
	closed bool
}

type topicWriter struct {
	w         *kafka.Writer
	limit     int    // largest recordSize accepted
	limitFrom string // what limit derives from, for errors
}

// msgMeta rides in kafka.Message.WriterData to the completion callback, as a
// *msgMeta (see metaOf).
type msgMeta struct {
	seq      uint64
	describe string
	written  time.Time // when Write handed it over, for produce latency
	// deadLetter marks a dead-letter reference standing in for seq.
	deadLetter bool
}

// New returns a Sink that reports every message's outcome to ack. It does
// not contact Kafka; topics are checked (and created, if configured) before
// the first write to each. cfg must pass Validate.
func New(cfg Config, ack sink.AckFunc, logger *slog.Logger, opts ...Option) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka sink config: %w", err)
	}
	if ack == nil {
		return nil, errors.New("kafka sink: ack func is required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	codec, _ := compressionCodec(cfg.Compression)
	conn, err := NewConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka sink config: %w", err)
	}
	// Metadata is served from the transport's cache (the Writer's
	// partition lookups too); a short TTL lets the sink see topics other
	// processes created without waiting long.
	transport := conn.Transport(metadataTTL)
	snk := &Sink{
		cfg:       cfg,
		ack:       ack,
		log:       logger.With("component", "kafka-sink"),
		codec:     codec,
		transport: transport,
		client:    conn.Client(transport, cfg.WriteTimeout),
		inflight:  newInflight(cfg.MaxInFlight),
		topics:    map[string]*topicWriter{},
		metrics:   noMetrics{},
	}
	for _, o := range opts {
		o(snk)
	}
	return snk, nil
}

// Metrics receives delivery counts and produce latency; *metrics.Source
// satisfies it.
type Metrics interface {
	Delivered(events, bytes int)
	ObserveProduce(time.Duration)
}

// deadLetterMetrics is implemented by Metrics that also count dead
// letters (*metrics.Source does).
type deadLetterMetrics interface {
	DeadLetter(kind string)
}

// deadLettered counts an oversized message sent to the dead-letter topic.
func (s *Sink) deadLettered() {
	if m, ok := s.metrics.(deadLetterMetrics); ok {
		m.DeadLetter("oversized")
	}
}

type noMetrics struct{}

func (noMetrics) Delivered(int, int)           {}
func (noMetrics) ObserveProduce(time.Duration) {}

// WithProduceGate has every produce request (one batch of one partition)
// ask gate first; an error refuses the request and fails the sink, as a
// failed batch does. Cluster mode's fence is such a gate.
func WithProduceGate(gate func() error) Option {
	return func(s *Sink) { s.gate = gate }
}

// WithHeaders adds headers to every message the sink writes (the cluster
// epoch and member, so consumers can drop a fenced member's late writes).
func WithHeaders(h ...kafka.Header) Option {
	return func(s *Sink) { s.headers = h }
}

// Option configures a Sink.
type Option func(*Sink)

// WithMetrics reports acked messages and produce latency to m.
func WithMetrics(m Metrics) Option {
	return func(s *Sink) {
		if m != nil {
			s.metrics = m
		}
	}
}

func (s *Sink) newWriter(batchBytes int) *kafka.Writer {
	return &kafka.Writer{
		Addr:      kafka.TCP(s.cfg.Brokers...),
		Transport: &fuseTransport{next: &partitionsCache{next: s.transport}, sink: s},
		// Murmur2 is the Java client's partitioner: a key always maps to
		// the same partition (and the same one Java producers pick). The
		// default RoundRobin would scatter a key's changes.
		Balancer: &kafka.Murmur2Balancer{},
		// A Writer literal defaults to RequireNone; only acks=all makes an
		// ack mean durable.
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: false,
		Async:                  true,
		Completion:             s.complete,
		MaxAttempts:            s.cfg.MaxAttempts,
		WriteBackoffMin:        s.cfg.WriteBackoffMin,
		WriteBackoffMax:        s.cfg.WriteBackoffMax,
		BatchSize:              s.cfg.BatchSize,
		BatchBytes:             int64(batchBytes),
		BatchTimeout:           s.cfg.BatchTimeout,
		WriteTimeout:           s.cfg.WriteTimeout,
		ReadTimeout:            s.cfg.WriteTimeout,
		Compression:            s.codec,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			s.log.Warn("kafka-go: " + fmt.Sprintf(format, args...))
		}),
	}
}

// Write hands msgs to kafka-go and returns without waiting for acks; each
// message's seq is acked later through the AckFunc. It blocks while
// kafka.max_in_flight messages await acks, and before the first write to a
// topic while the topic is checked or created.
//
// Write returns an error, and every later Write returns one too, once the
// sink has failed: a completion failed, a message was oversized in halt mode
// (a permanent *OversizedError), or kafka-go refused messages. Messages of
// msgs before an oversized one are still written.
func (s *Sink) Write(ctx context.Context, msgs []sink.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := s.state(); err != nil {
		return fmt.Errorf("write %d messages to %s: %w", len(msgs), msgs[0].Topic, err)
	}
	now := time.Now()
	sc := getScratch()
	defer putScratch(sc)
	// One allocation carries every message's metadata to its completion
	// (boxing a msgMeta per message would allocate once each).
	metas := make([]msgMeta, len(msgs))
	var (
		stop     error
		lastName string
		last     *topicWriter
	)
	for i := range msgs {
		m := &msgs[i]
		tw := last
		if tw == nil || m.Topic != lastName {
			var err error
			if tw, err = s.topic(ctx, m.Topic); err != nil {
				stop = fmt.Errorf("write %d messages to %s: %w", len(msgs), m.Topic, err)
				break
			}
			last, lastName = tw, m.Topic
		}
		metas[i] = msgMeta{seq: m.Seq, describe: m.Describe, written: now}
		km := kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: s.headers, WriterData: &metas[i]}
		size := recordSize(km)
		if size <= tw.limit {
			sc.add(tw, km)
			continue
		}
		oe := &OversizedError{Topic: m.Topic, Describe: m.Describe, Seq: m.Seq, Size: size, Limit: tw.limit, LimitFrom: tw.limitFrom}
		if s.cfg.OnOversized != OversizedDeadLetter {
			stop = oe
			break
		}
		dtw, ref, err := s.deadLetterRef(ctx, km, oe)
		if err != nil {
			stop = err
			break
		}
		s.log.Warn("oversized message sent to dead letter topic", "topic", m.Topic, "message", m.Describe, "seq", m.Seq, "size", size, "limit", tw.limit)
		s.deadLettered()
		sc.add(dtw, ref)
	}
	for i := range sc.groups {
		g := &sc.groups[i]
		if err := s.send(ctx, g.tw, g.msgs); err != nil {
			stop = errors.Join(stop, err)
			break
		}
	}
	if stop != nil {
		s.fail(stop)
	}
	return stop
}

// writeScratch groups one Write's messages by topic writer, in order of
// first appearance. kafka-go copies the messages it is handed (async
// WriteMessages keeps no reference to the slice), so the slices are reused
// from Write to Write.
type writeScratch struct {
	groups []writeGroup
}

type writeGroup struct {
	tw   *topicWriter
	msgs []kafka.Message
}

func (sc *writeScratch) add(tw *topicWriter, m kafka.Message) {
	for i := range sc.groups {
		if g := &sc.groups[i]; g.tw == tw {
			g.msgs = append(g.msgs, m)
			return
		}
	}
	if n := len(sc.groups); n < cap(sc.groups) {
		// Reuse the slice a previous Write left here.
		sc.groups = sc.groups[:n+1]
		g := &sc.groups[n]
		g.tw, g.msgs = tw, append(g.msgs[:0], m)
		return
	}
	sc.groups = append(sc.groups, writeGroup{tw: tw, msgs: []kafka.Message{m}})
}

var scratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

func getScratch() *writeScratch { return scratchPool.Get().(*writeScratch) }

// maxScratch bounds the messages a pooled scratch keeps room for.
const maxScratch = 4096

func putScratch(sc *writeScratch) {
	for i := range sc.groups {
		g := &sc.groups[i]
		clear(g.msgs) // drop references to keys, values and metadata
		g.tw, g.msgs = nil, g.msgs[:0]
		if cap(g.msgs) > maxScratch {
			g.msgs = nil
		}
	}
	sc.groups = sc.groups[:0]
	scratchPool.Put(sc)
}

// send hands one topic's messages to its writer, counting them in flight.
func (s *Sink) send(ctx context.Context, tw *topicWriter, kms []kafka.Message) error {
	if err := s.inflight.acquire(ctx, len(kms)); err != nil {
		return fmt.Errorf("write %d messages to %s: wait for acks: %w", len(kms), kms[0].Topic, err)
	}
	// In async mode kafka-go enqueues everything or, on a validation or
	// metadata error, nothing.
	if err := tw.w.WriteMessages(ctx, kms...); err != nil {
		s.inflight.release(len(kms))
		return fmt.Errorf("write %d messages to %s: %w", len(kms), kms[0].Topic, err)
	}
	return nil
}

// topic returns the writer for name, first making sure the topic exists
// and reading its size limit.
func (s *Sink) topic(ctx context.Context, name string) (*topicWriter, error) {
	s.mu.Lock()
	tw := s.topics[name]
	s.mu.Unlock()
	if tw != nil {
		return tw, nil
	}
	s.topicMu.Lock()
	defer s.topicMu.Unlock()
	s.mu.Lock()
	tw = s.topics[name]
	s.mu.Unlock()
	if tw != nil {
		return tw, nil
	}
	if s.cfg.CreateTopics {
		if err := EnsureTopic(ctx, s.client, name, s.cfg.Partitions, s.cfg.ReplicationFactor); err != nil {
			return nil, err
		}
	} else {
		if err := s.waitExisting(ctx, name); err != nil {
			return nil, err
		}
	}
	limit, from, err := s.messageLimit(ctx, name)
	if err != nil {
		return nil, err
	}
	tw = &topicWriter{w: s.newWriter(limit), limit: limit, limitFrom: from}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		tw.w.Close()
		return nil, ErrClosed
	}
	s.topics[name] = tw
	s.log.Debug("topic ready", "topic", name, "message_limit", limit)
	return tw, nil
}

// metadataTTL is how long the sink's Transport caches cluster metadata.
const metadataTTL = 2 * time.Second

// waitExisting waits for a topic the sink may not create. The metadata
// cache can lag a topic created elsewhere by up to metadataTTL, so a topic
// counts as missing only if it stays missing for longer than that.
func (s *Sink) waitExisting(ctx context.Context, name string) error {
	deadline := time.Now().Add(metadataTTL + time.Second)
	for {
		state, err := topicState(ctx, s.client, name)
		if err != nil {
			return err
		}
		if state != topicMissing {
			return waitTopicReady(ctx, s.client, name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s does not exist and kafka.create_topics is false", name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topic %s: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// state returns why the sink no longer accepts messages, or nil.
func (s *Sink) state() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// fail records the first failure; later ones are only logged.
func (s *Sink) fail(err error) {
	s.mu.Lock()
	first := s.failed == nil
	if first {
		s.failed = err
	}
	s.mu.Unlock()
	if first {
		s.log.Error("kafka sink failed; restart from the last checkpoint", "err", err, "permanent", IsPermanent(err))
	}
}

// Err returns the error that failed the sink, or nil.
func (s *Sink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Flush waits until every message handed to kafka-go has completed (its
// seq acked or failed through the AckFunc), or ctx ends. It returns the
// sink's failure, if any.
func (s *Sink) Flush(ctx context.Context) error {
	if err := s.inflight.drain(ctx); err != nil {
		return fmt.Errorf("flush %d messages in flight: %w", s.inflight.count(), err)
	}
	return s.Err()
}

// Close flushes, then closes the writers and the connections. Messages
// still in flight are completed (kafka-go's retries are bounded by
// kafka.max_attempts), so Close may take as long as those retries. Close is
// idempotent; Write after Close returns ErrClosed.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	// Flush before taking topicMu: a completion may still need the
	// dead-letter topic's writer.
	ferr := s.Flush(context.Background())
	s.topicMu.Lock()
	defer s.topicMu.Unlock()
	var errs []error
	s.mu.Lock()
	writers := s.topics
	s.mu.Unlock()
	for name, tw := range writers {
		if err := tw.w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close writer of %s: %w", name, err))
		}
	}
	s.transport.CloseIdleConnections()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_ = ferr // the failure was reported through acks and Write already
	return nil
}

var _ sink.Sink = (*Sink)(nil)

// partitionsCacheTTL is how long partitionsCache reuses a metadata answer:
// short next to the Transport's own metadataTTL, which already serves these
// requests from a cache.
const partitionsCacheTTL = 250 * time.Millisecond

// partitionsCache answers the Writer's single-topic metadata requests from
// the last answer for that topic for partitionsCacheTTL. kafka-go's
// WriteMessages asks for the partitions of every message's topic, and the
// Transport, although it serves the request from its cache, copies a
// filtered response each time; the Writer only reads the answer. Errors
// and answers that report an error for the topic are not kept. Any other
// request goes straight through.
type partitionsCache struct {
	next kafka.RoundTripper

	mu      sync.Mutex
	entries map[string]partitionsEntry
}

type partitionsEntry struct {
	resp    *metadataAPI.Response
	expires time.Time
}

func (c *partitionsCache) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadataAPI.Request)
	if !ok || len(m.TopicNames) != 1 || m.AllowAutoTopicCreation ||
		m.IncludeClusterAuthorizedOperations || m.IncludeTopicAuthorizedOperations {
		return c.next.RoundTrip(ctx, addr, req)
	}
	topic := m.TopicNames[0]
	now := time.Now()
	c.mu.Lock()
	e, hit := c.entries[topic]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.resp, nil
	}
	resp, err := c.next.RoundTrip(ctx, addr, req)
	if err != nil {
		return resp, err
	}
	r, ok := resp.(*metadataAPI.Response)
	if !ok || len(r.Topics) != 1 || r.Topics[0].Name != topic || r.Topics[0].ErrorCode != 0 {
		return resp, nil
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]partitionsEntry{}
	}
	c.entries[topic] = partitionsEntry{resp: r, expires: now.Add(partitionsCacheTTL)}
	c.mu.Unlock()
	return resp, nil
}
