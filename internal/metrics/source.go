package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Source is one source's metrics handle. A nil *Source is valid: every
// method is then a no-op and Status returns the zero value.
type Source struct {
	name string
	now  func() time.Time

	// Pre-curried children: the hot path never looks up labels.
	delivered prometheus.Counter
	bytes     prometheus.Counter
	inFlight  prometheus.Gauge
	produce   prometheus.Observer
	up        prometheus.Gauge
	retries   kindCounters
	errors    kindCounters
	snapDone  *prometheus.GaugeVec // curried with source
	snapTotal *prometheus.GaugeVec
	deadMap   prometheus.Counter
	deadSize  prometheus.Counter
	dead      *prometheus.CounterVec // curried with source

	// Totals for Status; Prometheus counters are not cheap to read back.
	nDelivered  atomic.Uint64
	nBytes      atomic.Uint64
	nInFlight   atomic.Int64
	nRetries    atomic.Uint64
	nErrors     atomic.Uint64
	lagBytes    atomic.Int64
	lagBytesSet atomic.Bool
	lastEvent   atomic.Int64 // Unix ms of the last row change read; 0: none yet
	stalled     atomic.Bool
	accuracy    atomic.Pointer[Accuracy] // nil: no accuracy monitor
	// attemptAcked: Kafka acked a message since the state last changed
	// (the running attempt's sink).
	attemptAcked atomic.Bool
	retention    atomic.Pointer[retention] // retention.go
	// TOAST fill (toast.go).
	toastOn       atomic.Bool
	toastUnfilled atomic.Uint64

	mu           sync.Mutex // guards the fields below
	state        string
	since        time.Time
	lastErr      string
	lastErrAt    time.Time
	position     string
	snapshotWork string // the checkpoint's pending snapshot work, encoded
	commitTime   time.Time
	savedAt      time.Time
	snapshot     map[string]TableProgress
	// attemptCheckpointed: a checkpoint was committed while streaming,
	// since the state last changed (the running attempt's first).
	attemptCheckpointed bool
}

func newSource(r *Registry, name string) *Source {
	l := prometheus.Labels{"source": name}
	s := &Source{
		name:      name,
		now:       r.now,
		delivered: r.delivered.With(l),
		bytes:     r.bytes.With(l),
		inFlight:  r.inFlight.With(l),
		produce:   r.produce.With(l),
		up:        r.up.With(l),
		retries:   newKindCounters(r.retries.MustCurryWith(l)),
		errors:    newKindCounters(r.errors.MustCurryWith(l)),
		snapDone:  r.snapDone.MustCurryWith(l),
		snapTotal: r.snapTotal.MustCurryWith(l),
		dead:      r.dead.MustCurryWith(l),
		state:     StateStarting,
		since:     r.now(),
		snapshot:  map[string]TableProgress{},
	}
	s.deadMap = s.dead.WithLabelValues(DeadLetterMapping)
	s.deadSize = s.dead.WithLabelValues(DeadLetterOversized)
	s.up.Set(0)
	return s
}

// DeadLetter counts one record sent to the dead-letter topic, of kind
// (DeadLetter* constants), when it is handed to the sink.
func (s *Source) DeadLetter(kind string) {
	if s == nil {
		return
	}
	switch kind {
	case DeadLetterMapping:
		s.deadMap.Inc()
	case DeadLetterOversized:
		s.deadSize.Inc()
	default:
		s.dead.WithLabelValues(kind).Inc()
	}
}

// Name is the source's configured name.
func (s *Source) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// Delivered counts messages Kafka acknowledged and their key+value bytes.
// Call it from the sink's completion with each acked batch.
func (s *Source) Delivered(events int, bytes int) {
	if s == nil {
		return
	}
	s.attemptAcked.Store(true)
	s.delivered.Add(float64(events))
	s.bytes.Add(float64(bytes))
	s.nDelivered.Add(uint64(events))
	s.nBytes.Add(uint64(bytes))
}

// SetInFlight records how many messages wait for Kafka's ack.
func (s *Source) SetInFlight(n int) {
	if s == nil {
		return
	}
	s.inFlight.Set(float64(n))
	s.nInFlight.Store(int64(n))
}

// ObserveProduce records the time from handing a batch to the sink until
// its ack.
func (s *Source) ObserveProduce(d time.Duration) {
	if s == nil {
		return
	}
	s.produce.Observe(d.Seconds())
}

// Retry counts one retry after a failure of kind (Kind* constants).
func (s *Source) Retry(kind string) {
	if s == nil {
		return
	}
	s.retries.get(kind).Inc()
	s.nRetries.Add(1)
}

// Error counts one error of kind (Kind* constants).
func (s *Source) Error(kind string) {
	if s == nil {
		return
	}
	s.errors.get(kind).Inc()
	s.nErrors.Add(1)
}

// Checkpoint records a durably committed checkpoint: its position and
// pending snapshot work (kept for Status only: as a label it would make a
// new series per checkpoint), the source commit time of its last
// transaction and when it was saved. A zero
// commitTime (a first start's initial position) keeps the previous one, so
// lag stays unknown rather than jumping.
func (s *Source) Checkpoint(position, snapshot string, commitTime, savedAt time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.position, s.snapshotWork = position, snapshot
	if s.state == StateStreaming {
		s.attemptCheckpointed = true
	}
	if !commitTime.IsZero() {
		s.commitTime = commitTime
	}
	s.savedAt = savedAt
}

// EventRead records that a row change was read from the source at t.
func (s *Source) EventRead(t time.Time) {
	if s == nil {
		return
	}
	s.lastEvent.Store(t.UnixMilli())
}

// SetStalled records whether the source is stalled: the server wrote past
// the checkpoint and the checkpoint has not moved for a while.
func (s *Source) SetStalled(stalled bool) {
	if s == nil {
		return
	}
	s.stalled.Store(stalled)
}

// SetLagBytes records how many bytes of binlog/WAL the source's read
// position is behind the server's current position. Until it is first
// called, tributary_lag_bytes is absent for the source.
func (s *Source) SetLagBytes(n int64) {
	if s == nil {
		return
	}
	s.lagBytes.Store(n)
	s.lagBytesSet.Store(true)
}

// SetState records the source's state (State* constants) and, when err is
// not nil, its last error. The last error is kept after the source
// recovers, with its time, so an operator can see what happened.
func (s *Source) SetState(state string, err error) {
	if s == nil {
		return
	}
	up := 0.0
	if state == StateStreaming {
		up = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if state != s.state {
		s.state, s.since = state, now
		// A new attempt proves itself again (Delivering).
		s.attemptCheckpointed = false
		s.attemptAcked.Store(false)
	}
	if err != nil {
		s.lastErr, s.lastErrAt = err.Error(), now
	}
	s.up.Set(up)
}

// SnapshotProgress records how far a table's snapshot got. rowsTotal is an
// estimate; rowsDone may pass it.
func (s *Source) SnapshotProgress(table string, rowsDone, rowsTotal int64) {
	if s == nil {
		return
	}
	s.snapDone.WithLabelValues(table).Set(float64(rowsDone))
	s.snapTotal.WithLabelValues(table).Set(float64(rowsTotal))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshot[table] = TableProgress{Table: table, RowsDone: rowsDone, RowsTotal: rowsTotal}
}

// State returns the current state.
func (s *Source) State() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Status returns a snapshot of the source's state and counters, with lag
// and checkpoint age computed now.
func (s *Source) Status() SourceStatus {
	if s == nil {
		return SourceStatus{}
	}
	now := s.now()
	s.mu.Lock()
	st := SourceStatus{
		Name:                 s.name,
		State:                s.state,
		Since:                s.since,
		LastError:            s.lastErr,
		LastErrorAt:          s.lastErrAt,
		CheckpointPosition:   s.position,
		CheckpointSnapshot:   s.snapshotWork,
		CheckpointCommitTime: s.commitTime,
		CheckpointSavedAt:    s.savedAt,
	}
	checkpointed := s.attemptCheckpointed
	snap := slices.SortedFunc(maps.Values(s.snapshot), func(a, b TableProgress) int { return strings.Compare(a.Table, b.Table) })
	s.mu.Unlock()
	if !st.CheckpointCommitTime.IsZero() {
		st.LagMs = ptr(sinceMs(now, st.CheckpointCommitTime))
	}
	if !st.CheckpointSavedAt.IsZero() {
		st.CheckpointAgeMs = ptr(sinceMs(now, st.CheckpointSavedAt))
	}
	if s.lagBytesSet.Load() {
		st.LagBytes = ptr(s.lagBytes.Load())
	}
	if ms := s.lastEvent.Load(); ms != 0 {
		st.LastEventAt = time.UnixMilli(ms)
	}
	st.Stalled = s.stalled.Load()
	st.InFlight = s.nInFlight.Load()
	st.Delivering = st.State == StateStreaming && checkpointed && (s.attemptAcked.Load() || st.InFlight == 0)
	st.EventsDelivered = s.nDelivered.Load()
	st.BytesDelivered = s.nBytes.Load()
	st.Retries = s.nRetries.Load()
	st.Errors = s.nErrors.Load()
	st.Snapshot = snap
	st.Accuracy = s.accuracy.Load().Status()
	return st
}

// scrapeValues are the time-derived values the scrape collector reports.
type scrapeValues struct {
	commitTime, savedAt time.Time
	lagBytes            int64
	lagBytesSet         bool
	lastEventMs         int64
	stalled             bool
}

func (s *Source) scrapeValues() scrapeValues {
	s.mu.Lock()
	v := scrapeValues{commitTime: s.commitTime, savedAt: s.savedAt}
	s.mu.Unlock()
	v.lagBytes, v.lagBytesSet = s.lagBytes.Load(), s.lagBytesSet.Load()
	v.lastEventMs, v.stalled = s.lastEvent.Load(), s.stalled.Load()
	return v
}

// kindCounters holds the pre-curried counters of the known kinds.
type kindCounters struct {
	kafka, source, checkpoint, permanent prometheus.Counter
	vec                                  *prometheus.CounterVec // curried with source
}

func newKindCounters(vec *prometheus.CounterVec) kindCounters {
	return kindCounters{
		kafka:      vec.WithLabelValues(KindKafka),
		source:     vec.WithLabelValues(KindSource),
		checkpoint: vec.WithLabelValues(KindCheckpoint),
		permanent:  vec.WithLabelValues(KindPermanent),
		vec:        vec,
	}
}

func (k *kindCounters) get(kind string) prometheus.Counter {
	switch kind {
	case KindKafka:
		return k.kafka
	case KindSource:
		return k.source
	case KindCheckpoint:
		return k.checkpoint
	case KindPermanent:
		return k.permanent
	}
	return k.vec.WithLabelValues(kind)
}

// sinceMs is now − t in milliseconds, never negative (clock skew between
// the database server and this host).
func sinceMs(now, t time.Time) int64 {
	return max(now.Sub(t).Milliseconds(), 0)
}

func ptr[T any](v T) *T { return &v }
