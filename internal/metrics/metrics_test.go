package metrics

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNilSourceIsNoop(t *testing.T) {
	t.Parallel()
	var r *Registry
	s := r.Source("crm")
	if s != nil {
		t.Fatalf("nil Registry.Source = %v, want nil", s)
	}
	s.Delivered(1, 10)
	s.SetInFlight(3)
	s.ObserveProduce(time.Millisecond)
	s.Retry(KindKafka)
	s.Error("other")
	s.Checkpoint("f:4", "", time.Now(), time.Now())
	s.SetLagBytes(5)
	s.SetState(StateStreaming, errors.New("x"))
	s.SnapshotProgress("crm.t", 1, 2)
	if st := s.Status(); st.Name != "" || st.State != "" {
		t.Errorf("nil Status = %+v, want zero", st)
	}
	if s.State() != "" || s.Name() != "" {
		t.Error("nil State/Name not empty")
	}
	if got := r.Statuses(); got != nil {
		t.Errorf("nil Statuses = %v", got)
	}
}

func TestSourceIsCreatedOnce(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	a, b := r.Source("crm"), r.Source("crm")
	if a != b {
		t.Error("Source returned two handles for one name")
	}
	if a.State() != StateStarting {
		t.Errorf("new source state %q, want %q", a.State(), StateStarting)
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s := r.Source("crm")
	r.Source("billing") // its series exist at zero
	s.Delivered(3, 300)
	s.Delivered(2, 50)
	s.SetInFlight(7)
	s.SetInFlight(4)
	s.Retry(KindKafka)
	s.Retry(KindKafka)
	s.Error(KindSource)
	s.Error("ddl") // an unknown kind still counts
	s.ObserveProduce(3 * time.Millisecond)
	s.ObserveProduce(2 * time.Second)

	gather(t, r, `
# HELP tributary_events_delivered_total Messages (events and tombstones) Kafka acknowledged.
# TYPE tributary_events_delivered_total counter
tributary_events_delivered_total{source="billing"} 0
tributary_events_delivered_total{source="crm"} 5
# HELP tributary_bytes_delivered_total Bytes of message keys and values Kafka acknowledged.
# TYPE tributary_bytes_delivered_total counter
tributary_bytes_delivered_total{source="billing"} 0
tributary_bytes_delivered_total{source="crm"} 350
# HELP tributary_events_in_flight Messages handed to the Kafka sink and not yet acknowledged.
# TYPE tributary_events_in_flight gauge
tributary_events_in_flight{source="billing"} 0
tributary_events_in_flight{source="crm"} 4
`, "tributary_events_delivered_total", "tributary_bytes_delivered_total", "tributary_events_in_flight")

	if got := testutil.ToFloat64(r.retries.WithLabelValues("crm", KindKafka)); got != 2 {
		t.Errorf("retries{kafka} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.retries.WithLabelValues("crm", KindCheckpoint)); got != 0 {
		t.Errorf("retries{checkpoint} = %v, want 0", got)
	}
	if got := testutil.ToFloat64(r.errors.WithLabelValues("crm", KindSource)); got != 1 {
		t.Errorf("errors{source} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.errors.WithLabelValues("crm", "ddl")); got != 1 {
		t.Errorf("errors{ddl} = %v, want 1", got)
	}
	// 4 known kinds per source for each of 2 sources, plus "ddl".
	if n := testutil.CollectAndCount(r.errors); n != 9 {
		t.Errorf("tributary_errors_total has %d series, want 9", n)
	}
	if n := testutil.CollectAndCount(r.produce); n != 2 {
		t.Errorf("produce histogram series = %d, want 2", n)
	}

	st := s.Status()
	if st.EventsDelivered != 5 || st.BytesDelivered != 350 || st.InFlight != 4 || st.Retries != 2 || st.Errors != 2 {
		t.Errorf("Status counters = %+v", st)
	}
}

func TestProduceHistogramBuckets(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s := r.Source("crm")
	s.ObserveProduce(500 * time.Microsecond)
	s.ObserveProduce(20 * time.Millisecond)
	s.ObserveProduce(time.Minute)
	gather(t, r, `
# HELP tributary_kafka_produce_latency_seconds Time from handing a batch to the Kafka sink until Kafka acknowledged it.
# TYPE tributary_kafka_produce_latency_seconds histogram
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.001"} 1
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.0025"} 1
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.005"} 1
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.01"} 1
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.025"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.05"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.1"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.25"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.5"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="1"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="2.5"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="5"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="10"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="30"} 2
tributary_kafka_produce_latency_seconds_bucket{source="crm",le="+Inf"} 3
tributary_kafka_produce_latency_seconds_sum{source="crm"} 60.0205
tributary_kafka_produce_latency_seconds_count{source="crm"} 3
`, "tributary_kafka_produce_latency_seconds")
}

func TestLagIsComputedAtScrape(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := NewRegistry(WithClock(clock.Now))
	s := r.Source("crm")
	names := []string{"tributary_lag_milliseconds", "tributary_checkpoint_age_seconds",
		"tributary_checkpoint_commit_timestamp_seconds", "tributary_checkpoint_saved_timestamp_seconds", "tributary_lag_bytes"}

	// No checkpoint yet: no series, rather than a misleading 0.
	if n, err := testutil.GatherAndCount(r.Prometheus(), names...); err != nil || n != 0 {
		t.Fatalf("before any checkpoint: %d series (%v), want none", n, err)
	}
	st := s.Status()
	if st.LagMs != nil || st.CheckpointAgeMs != nil || st.LagBytes != nil {
		t.Errorf("Status before any checkpoint has lag/age: %+v", st)
	}

	// A first start's initial checkpoint has no commit time: age but no lag.
	s.Checkpoint("mariadb-bin.000001:4", "", time.Time{}, clock.Now())
	if n, _ := testutil.GatherAndCount(r.Prometheus(), "tributary_lag_milliseconds"); n != 0 {
		t.Errorf("lag series present without a commit time")
	}

	commit := clock.Now().Add(-1500 * time.Millisecond)
	s.Checkpoint("mariadb-bin.000001:900", "", commit, clock.Now().Add(-500*time.Millisecond))
	const help = `
# HELP tributary_lag_milliseconds Now minus the source commit time of the last checkpointed (Kafka-acked) transaction; grows while the source is stuck or idle.
# TYPE tributary_lag_milliseconds gauge
# HELP tributary_checkpoint_age_seconds Now minus the time the last checkpoint was saved.
# TYPE tributary_checkpoint_age_seconds gauge
`
	gather(t, r, help+`
tributary_lag_milliseconds{source="crm"} 1500
tributary_checkpoint_age_seconds{source="crm"} 0.5
`, "tributary_lag_milliseconds", "tributary_checkpoint_age_seconds")

	// Nothing happens for 10s: both grow although no method was called.
	clock.Advance(10 * time.Second)
	gather(t, r, help+`
tributary_lag_milliseconds{source="crm"} 11500
tributary_checkpoint_age_seconds{source="crm"} 10.5
`, "tributary_lag_milliseconds", "tributary_checkpoint_age_seconds")
	st = s.Status()
	if st.LagMs == nil || *st.LagMs != 11500 || st.CheckpointAgeMs == nil || *st.CheckpointAgeMs != 10500 {
		t.Errorf("Status lag/age = %v/%v, want 11500/10500", st.LagMs, st.CheckpointAgeMs)
	}
	if st.CheckpointPosition != "mariadb-bin.000001:900" || !st.CheckpointCommitTime.Equal(commit) {
		t.Errorf("Status checkpoint = %q @ %v", st.CheckpointPosition, st.CheckpointCommitTime)
	}

	gather(t, r, `
# HELP tributary_checkpoint_commit_timestamp_seconds Source commit time of the last checkpointed transaction, Unix seconds.
# TYPE tributary_checkpoint_commit_timestamp_seconds gauge
`+fmt.Sprintf("tributary_checkpoint_commit_timestamp_seconds{source=\"crm\"} %g\n", float64(commit.UnixMilli())/1e3),
		"tributary_checkpoint_commit_timestamp_seconds")

	// A commit time ahead of this host's clock (skew) reads as no lag.
	s.Checkpoint("mariadb-bin.000001:1000", "", clock.Now().Add(time.Second), clock.Now())
	gather(t, r, help+`
tributary_lag_milliseconds{source="crm"} 0
tributary_checkpoint_age_seconds{source="crm"} 0
`, "tributary_lag_milliseconds", "tributary_checkpoint_age_seconds")

	s.SetLagBytes(4096)
	gather(t, r, `
# HELP tributary_lag_bytes Bytes of binlog/WAL between the source's read position and the server's current position.
# TYPE tributary_lag_bytes gauge
tributary_lag_bytes{source="crm"} 4096
`, "tributary_lag_bytes")
	if st := s.Status(); st.LagBytes == nil || *st.LagBytes != 4096 {
		t.Errorf("Status lag bytes = %v, want 4096", st.LagBytes)
	}
}

func TestSetState(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := NewRegistry(WithClock(clock.Now))
	s := r.Source("crm")
	start := clock.Now()
	up := func() float64 { return testutil.ToFloat64(r.up.WithLabelValues("crm")) }

	steps := []struct {
		state     string
		err       error
		wantUp    float64
		wantErr   string
		wantSince time.Duration // after start
	}{
		{StateStarting, nil, 0, "", 0},
		{StateStreaming, nil, 1, "", 1 * time.Second},
		{StateStreaming, nil, 1, "", 1 * time.Second}, // same state: since unchanged
		{StateBackoff, errors.New("kafka write failed: broker down"), 0, "kafka write failed: broker down", 3 * time.Second},
		{StateStreaming, nil, 1, "kafka write failed: broker down", 4 * time.Second}, // the last error is kept
		{StateFailed, errors.New("binlog purged"), 0, "binlog purged", 5 * time.Second},
	}
	for i, step := range steps {
		if i > 0 {
			clock.Advance(time.Second)
		}
		s.SetState(step.state, step.err)
		st := s.Status()
		if st.State != step.state || st.LastError != step.wantErr || !st.Since.Equal(start.Add(step.wantSince)) {
			t.Errorf("step %d: status %q %q since +%v; want %q %q +%v", i, st.State, st.LastError,
				st.Since.Sub(start), step.state, step.wantErr, step.wantSince)
		}
		if got := up(); got != step.wantUp {
			t.Errorf("step %d: tributary_source_up = %v, want %v", i, got, step.wantUp)
		}
	}
}

func TestSnapshotProgress(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s := r.Source("crm")
	s.SnapshotProgress("crm.orders", 10, 100)
	s.SnapshotProgress("crm.customers", 5, 5)
	s.SnapshotProgress("crm.orders", 50, 100)
	gather(t, r, `
# HELP tributary_snapshot_rows_done Rows of a table's snapshot delivered so far.
# TYPE tributary_snapshot_rows_done gauge
tributary_snapshot_rows_done{source="crm",table="crm.customers"} 5
tributary_snapshot_rows_done{source="crm",table="crm.orders"} 50
`, "tributary_snapshot_rows_done")
	want := []TableProgress{{"crm.customers", 5, 5}, {"crm.orders", 50, 100}}
	if got := s.Status().Snapshot; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Status snapshot = %v, want %v", got, want)
	}
}

func TestStatusesSortedByName(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	for _, n := range []string{"zeta", "alpha", "mid"} {
		r.Source(n)
	}
	var names []string
	for _, st := range r.Statuses() {
		names = append(names, st.Name)
	}
	if fmt.Sprint(names) != "[alpha mid zeta]" {
		t.Errorf("Statuses order = %v", names)
	}
}

func TestGoAndProcessCollectors(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	n, err := testutil.GatherAndCount(r.Prometheus(), "go_goroutines", "process_start_time_seconds")
	if err != nil || n < 1 {
		t.Errorf("go/process collectors: %d series (%v)", n, err)
	}
}

// TestConcurrentUse is for the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := r.Source(fmt.Sprintf("s%d", i%3))
			for j := range 200 {
				s.Delivered(1, 10)
				s.SetInFlight(j)
				s.ObserveProduce(time.Millisecond)
				s.Retry(KindKafka)
				s.Error(KindSource)
				s.Checkpoint("p", "", time.Now(), time.Now())
				s.SetLagBytes(int64(j))
				s.SetState(StateStreaming, nil)
				if j%50 == 0 {
					_ = r.Statuses()
					if _, err := r.Prometheus().Gather(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	var total uint64
	for _, st := range r.Statuses() {
		total += st.EventsDelivered
	}
	if total != 8*200 {
		t.Errorf("delivered %d, want %d", total, 8*200)
	}
}

func BenchmarkHotPath(b *testing.B) {
	s := NewRegistry().Source("crm")
	b.ReportAllocs()
	for i := range b.N {
		s.Delivered(512, 512*1024)
		s.SetInFlight(i)
		s.ObserveProduce(3 * time.Millisecond)
		s.Retry(KindKafka)
	}
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s := r.Source("crm")
	s.DeadLetter(DeadLetterMapping)
	s.DeadLetter(DeadLetterMapping)
	s.DeadLetter(DeadLetterOversized)
	var nilSource *Source
	nilSource.DeadLetter(DeadLetterMapping) // a no-op
	gather(t, r, `
# HELP tributary_dead_letters_total Records sent to the dead-letter topic instead of their own, by kind: mapping (a row a mapping rule refused), oversized (a message over the size limit).
# TYPE tributary_dead_letters_total counter
tributary_dead_letters_total{kind="mapping",source="crm"} 2
tributary_dead_letters_total{kind="oversized",source="crm"} 1
`, "tributary_dead_letters_total")
}
