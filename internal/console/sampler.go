package console

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The series the sampler reads from the registry /metrics exports, so that
// every figure on the page is one an operator can find there too.
const (
	seriesDelivered     = "tributary_events_delivered_total"
	seriesBytes         = "tributary_bytes_delivered_total"
	seriesLagMs         = "tributary_lag_milliseconds"
	seriesLagBytes      = "tributary_lag_bytes"
	seriesCheckpointAge = "tributary_checkpoint_age_seconds"
	seriesSnapDone      = "tributary_snapshot_rows_done"
	seriesSnapTotal     = "tributary_snapshot_rows_total"
	// Optional series: their panels appear only while a source has them.
	seriesDeadLetters  = "tributary_dead_letters_total"
	seriesSlotRetained = "tributary_slot_retained_wal_bytes"
	seriesSlotMax      = "tributary_slot_wal_keep_max_bytes"
	prefixAccuracy     = "tributary_accuracy_"
)

// History is how far back the charts reach.
const History = time.Hour

// rateSamples is how many sample intervals the events/s and bytes/s
// figures average over: one interval alone is noisy at a low rate.
const rateSamples = 6

// tableSamples is how many samples of a table's snapshot progress are kept
// for its rate and ETA.
const tableSamples = rateSamples + 1

// sample is one source's values at one gather; NaN where the series was
// absent (lag before the first checkpoint, lag bytes of a source that does
// not report them).
type sample struct {
	at                   time.Time
	delivered, bytes     float64
	lagMs, lagBytes      float64
	checkpointAgeSeconds float64
}

// ring is a fixed-capacity buffer of samples, oldest first when read.
type ring struct {
	buf  []sample
	next int
	full bool
}

func newRing(capacity int) *ring { return &ring{buf: make([]sample, capacity)} }

func (r *ring) add(s sample) {
	r.buf[r.next] = s
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// all returns the samples, oldest first (a copy).
func (r *ring) all() []sample {
	if !r.full {
		return append([]sample(nil), r.buf[:r.next]...)
	}
	out := make([]sample, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// tablePoint is one sample of a table snapshot's progress.
type tablePoint struct {
	at          time.Time
	done, total float64
}

// figure is one value of an optional series (accuracy), with the labels
// other than source.
type figure struct {
	name   string
	labels string
	value  float64
}

// sourceSeries is what the sampler keeps of one source.
type sourceSeries struct {
	history *ring
	tables  map[string][]tablePoint // newest last, at most tableSamples
	// From the latest gather only.
	deadLetters  float64 // NaN: absent
	slotRetained float64
	slotMax      float64
	accuracy     []figure
}

// sampler gathers the registry every interval and keeps History of each
// source's samples. Memory is bounded: History/interval samples of 64
// bytes per source (720 at the default 5 s, 46 KB; 3,600 at 1 s, 230 KB),
// plus tableSamples points per snapshotted table.
type sampler struct {
	gatherer prometheus.Gatherer
	interval time.Duration
	now      func() time.Time

	mu        sync.Mutex
	sources   map[string]*sourceSeries
	sampledAt time.Time
}

func newSampler(g prometheus.Gatherer, interval time.Duration, now func() time.Time) *sampler {
	return &sampler{gatherer: g, interval: interval, now: now, sources: map[string]*sourceSeries{}}
}

func (s *sampler) capacity() int {
	return int(math.Ceil(float64(History) / float64(s.interval)))
}

// run samples at once and then every interval until ctx is done.
func (s *sampler) run(ctx context.Context) {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sample gathers once and records every source's values. A failed gather
// (a collector's error) still yields the families that worked.
func (s *sampler) sample() {
	mfs, _ := s.gatherer.Gather()
	now := s.now()
	cur := map[string]*sample{}
	get := func(src string) *sample {
		if v, ok := cur[src]; ok {
			return v
		}
		v := &sample{at: now, delivered: math.NaN(), bytes: math.NaN(), lagMs: math.NaN(), lagBytes: math.NaN(), checkpointAgeSeconds: math.NaN()}
		cur[src] = v
		return v
	}
	type optional struct {
		deadLetters, slotRetained, slotMax float64
		accuracy                           []figure
		tables                             map[string]tablePoint
	}
	opt := map[string]*optional{}
	getOpt := func(src string) *optional {
		if v, ok := opt[src]; ok {
			return v
		}
		v := &optional{deadLetters: math.NaN(), slotRetained: math.NaN(), slotMax: math.NaN(), tables: map[string]tablePoint{}}
		opt[src] = v
		return v
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			src, rest := splitLabels(m.GetLabel())
			if src == "" {
				continue
			}
			v := value(m)
			switch name {
			case seriesDelivered:
				get(src).delivered = v
			case seriesBytes:
				get(src).bytes = v
			case seriesLagMs:
				get(src).lagMs = v
			case seriesLagBytes:
				get(src).lagBytes = v
			case seriesCheckpointAge:
				get(src).checkpointAgeSeconds = v
			case seriesDeadLetters:
				o := getOpt(src)
				o.deadLetters = sumNaN(o.deadLetters, v)
			case seriesSlotRetained:
				getOpt(src).slotRetained = v
			case seriesSlotMax:
				getOpt(src).slotMax = v
			case seriesSnapDone, seriesSnapTotal:
				table := labelValue(m.GetLabel(), "table")
				o := getOpt(src)
				p := o.tables[table]
				p.at = now
				if name == seriesSnapDone {
					p.done = v
				} else {
					p.total = v
				}
				o.tables[table] = p
			default:
				if strings.HasPrefix(name, prefixAccuracy) {
					o := getOpt(src)
					o.accuracy = append(o.accuracy, figure{name: strings.TrimPrefix(name, prefixAccuracy), labels: rest, value: v})
				}
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sampledAt = now
	for src, v := range cur {
		ss := s.series(src)
		ss.history.add(*v)
	}
	for src, ss := range s.sources {
		o, ok := opt[src]
		if !ok {
			o = getOpt(src)
		}
		ss.deadLetters, ss.slotRetained, ss.slotMax, ss.accuracy = o.deadLetters, o.slotRetained, o.slotMax, o.accuracy
		for table, p := range o.tables {
			pts := append(ss.tables[table], p)
			if len(pts) > tableSamples {
				pts = pts[len(pts)-tableSamples:]
			}
			ss.tables[table] = pts
		}
	}
}

func (s *sampler) series(src string) *sourceSeries {
	ss, ok := s.sources[src]
	if !ok {
		ss = &sourceSeries{history: newRing(s.capacity()), tables: map[string][]tablePoint{}}
		s.sources[src] = ss
	}
	return ss
}

// view is a copy of what the sampler holds of one source.
type view struct {
	history                            []sample
	tables                             map[string][]tablePoint
	deadLetters, slotRetained, slotMax float64
	accuracy                           []figure
}

// read returns a copy of every source's series and when they were last
// sampled.
func (s *sampler) read() (map[string]view, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]view, len(s.sources))
	for src, ss := range s.sources {
		tables := make(map[string][]tablePoint, len(ss.tables))
		for t, pts := range ss.tables {
			tables[t] = append([]tablePoint(nil), pts...)
		}
		out[src] = view{
			history: ss.history.all(), tables: tables,
			deadLetters: ss.deadLetters, slotRetained: ss.slotRetained, slotMax: ss.slotMax,
			accuracy: append([]figure(nil), ss.accuracy...),
		}
	}
	return out, s.sampledAt
}

// splitLabels returns the source label's value and the other labels as
// name="value" pairs.
func splitLabels(labels []*dto.LabelPair) (source, rest string) {
	var b strings.Builder
	for _, l := range labels {
		if l.GetName() == "source" {
			source = l.GetValue()
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.GetName() + "=" + l.GetValue())
	}
	return source, b.String()
}

func labelValue(labels []*dto.LabelPair, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is a counter's, gauge's or untyped metric's value; NaN for the
// other types (a histogram has no single value).
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

func sumNaN(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return a + b
}
