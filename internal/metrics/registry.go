// Package metrics holds the daemon's Prometheus metrics and the per-source
// status the admin server reports.
//
// One Registry per process; one *Source handle per configured source,
// taken once with Registry.Source and kept across pipeline restarts. Every
// method on *Source is safe for concurrent use and a no-op on a nil
// *Source, so code under test can run without metrics. The methods called
// per batch (Delivered, SetInFlight, ObserveProduce, Retry, Error) touch
// only atomics and pre-curried Prometheus children: no locks, no label
// lookups.
//
// Lag: tributary_lag_milliseconds is now minus the source commit time of the
// last transaction whose events Kafka acked (the checkpoint's commit time),
// computed at every scrape. A stuck source therefore shows growing lag even
// though nothing reaches the pipeline. So does an idle but healthy one whose
// source does not turn its heartbeats into commits: lag measures the age of
// the newest delivered change, not the distance to the server. The commit
// time is the database server's clock, so clock skew adds to it (negative
// values are reported as 0). tributary_lag_bytes, where a source reports it,
// is the distance to the server's current position in bytes of binlog/WAL.
package metrics

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source states. A source is ready (tributary_source_up 1, /readyz) only in
// StateStreaming.
const (
	StateStarting  = "starting"  // connecting, preflight, loading the checkpoint
	StateStreaming = "streaming" // reading changes and delivering them
	StateBackoff   = "backoff"   // a retryable failure; waiting to restart
	StateStopped   = "stopped"   // graceful stop
	StateFailed    = "failed"    // a permanent error stopped the source
	// StateStandby: in cluster mode, another member owns the source; this
	// one would take it over. Not a fault: /readyz counts it as ready.
	StateStandby = "standby"
)

// Error and retry kinds: the label values of tributary_errors_total and
// tributary_retries_total. These four are pre-curried; other kinds work but
// cost a label lookup per call and add series, so keep the set small.
const (
	KindKafka      = "kafka"      // a produce failed (after kafka-go's own attempts)
	KindSource     = "source"     // the database connection or stream failed
	KindCheckpoint = "checkpoint" // loading or committing a checkpoint failed
	KindPermanent  = "permanent"  // an error restarting cannot fix
)

// Dead-letter kinds: the label values of tributary_dead_letters_total.
const (
	DeadLetterMapping   = "mapping"   // a row a mapping rule could not transform
	DeadLetterOversized = "oversized" // a message over the size limit (kafka.on_oversized: dead_letter)
)

// produceBuckets run from 1ms to 30s: a healthy local broker acks in
// milliseconds; kafka-go's retries with backoff can take tens of seconds.
var produceBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Registry owns the Prometheus registry and the per-source handles.
type Registry struct {
	prom *prometheus.Registry
	now  func() time.Time

	delivered *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	inFlight  *prometheus.GaugeVec
	produce   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
	errors    *prometheus.CounterVec
	up        *prometheus.GaugeVec
	snapDone  *prometheus.GaugeVec
	snapTotal *prometheus.GaugeVec
	dead      *prometheus.CounterVec

	mu      sync.Mutex
	sources map[string]*Source
}

// Option configures a Registry.
type Option func(*Registry)

// WithClock replaces time.Now for lag, ages and state times (tests).
func WithClock(now func() time.Time) Option {
	return func(r *Registry) { r.now = now }
}

// NewRegistry returns a registry with the Go runtime and process collectors
// and every tributary_* metric registered.
func NewRegistry(opts ...Option) *Registry {
	r := &Registry{prom: prometheus.NewRegistry(), now: time.Now, sources: map[string]*Source{}}
	for _, o := range opts {
		o(r)
	}
	src := []string{"source"}
	r.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_events_delivered_total",
		Help: "Messages (events and tombstones) Kafka acknowledged.",
	}, src)
	r.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_bytes_delivered_total",
		Help: "Bytes of message keys and values Kafka acknowledged.",
	}, src)
	r.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tributary_events_in_flight",
		Help: "Messages handed to the Kafka sink and not yet acknowledged.",
	}, src)
	r.produce = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tributary_kafka_produce_latency_seconds",
		Help:    "Time from handing a batch to the Kafka sink until Kafka acknowledged it.",
		Buckets: produceBuckets,
	}, src)
	r.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_retries_total",
		Help: "Retries (pipeline restarts from the checkpoint) by the kind of failure.",
	}, []string{"source", "kind"})
	r.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_errors_total",
		Help: "Errors by kind; kind=permanent stopped the source.",
	}, []string{"source", "kind"})
	r.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tributary_source_up",
		Help: "1 while the source is streaming, 0 otherwise.",
	}, src)
	r.snapDone = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tributary_snapshot_rows_done",
		Help: "Rows of a table's snapshot delivered so far.",
	}, []string{"source", "table"})
	r.snapTotal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tributary_snapshot_rows_total",
		Help: "Rows of a table's snapshot expected (an estimate taken at its start).",
	}, []string{"source", "table"})

	r.dead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_dead_letters_total",
		Help: "Records sent to the dead-letter topic instead of their own, by kind: mapping (a row a mapping rule refused), oversized (a message over the size limit).",
	}, []string{"source", "kind"})

	r.prom.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.delivered, r.bytes, r.inFlight, r.produce, r.retries, r.errors, r.up, r.snapDone, r.snapTotal, r.dead,
		&scrapeCollector{r: r}, &accuracyCollector{r: r}, &toastCollector{r: r}, &retentionCollector{r: r},
	)
	return r
}

// Source returns the handle of the named source, creating it (state
// "starting") on the first call. Later calls return the same handle. On a
// nil Registry it returns nil, whose methods do nothing.
func (r *Registry) Source(name string) *Source {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sources[name]; ok {
		return s
	}
	s := newSource(r, name)
	r.sources[name] = s
	return s
}

// Statuses returns every source's status, sorted by name.
func (r *Registry) Statuses() []SourceStatus {
	if r == nil {
		return nil
	}
	srcs := r.list()
	out := make([]SourceStatus, len(srcs))
	for i, s := range srcs {
		out[i] = s.Status()
	}
	return out
}

// Handler serves the registry in the Prometheus exposition format.
func (r *Registry) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(r.prom, promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{Registry: r.prom}))
}

// Prometheus returns the underlying registry, to register more collectors.
func (r *Registry) Prometheus() *prometheus.Registry { return r.prom }

// list returns the sources sorted by name.
func (r *Registry) list() []*Source {
	r.mu.Lock()
	srcs := make([]*Source, 0, len(r.sources))
	for _, s := range r.sources {
		srcs = append(srcs, s)
	}
	r.mu.Unlock()
	slices.SortFunc(srcs, func(a, b *Source) int { return strings.Compare(a.name, b.name) })
	return srcs
}
