package console

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

// Card states: what the page shows, derived from the pipeline's state, the
// stall flag and the pending snapshot work.
const (
	CardStarting     = "starting"
	CardStreaming    = "streaming"
	CardSnapshotting = "snapshotting" // streaming, with snapshot work pending
	CardRestarting   = "restarting"   // a retryable failure; restarting from the checkpoint
	CardStalled      = "stalled"      // the server wrote past a checkpoint that does not move
	CardFailed       = "failed"       // a permanent error stopped the source
	CardStopped      = "stopped"
)

// Data is GET /console/data's body. Numbers are null where the series is
// absent, optional panels (slot, dead letters, accuracy) are left out.
type Data struct {
	GeneratedAt time.Time `json:"generated_at"`
	// SampledAt is the registry's last gather, which every figure is from
	// (states and texts are from /status, read now).
	SampledAt         time.Time `json:"sampled_at"`
	IntervalSeconds   float64   `json:"interval_seconds"`
	HistorySeconds    float64   `json:"history_seconds"`
	RateWindowSeconds float64   `json:"rate_window_seconds"`
	Sources           []Card    `json:"sources"`
}

// Card is one source's panel.
type Card struct {
	Name        string    `json:"name"`
	State       string    `json:"state"`    // Card* constant
	Pipeline    string    `json:"pipeline"` // metrics.State*, as /status says
	Since       time.Time `json:"since"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`

	LagMs                *float64  `json:"lag_ms"`
	LagBytes             *float64  `json:"lag_bytes"`
	EventsPerSecond      *float64  `json:"events_per_second"`
	BytesPerSecond       *float64  `json:"bytes_per_second"`
	EventsDelivered      *float64  `json:"events_delivered"` // the counter at SampledAt
	CheckpointPosition   string    `json:"checkpoint_position,omitempty"`
	CheckpointAgeSeconds *float64  `json:"checkpoint_age_seconds"`
	LastEventAt          time.Time `json:"last_event_at,omitzero"`
	InFlight             int64     `json:"in_flight"`
	Retries              uint64    `json:"retries"`
	Errors               uint64    `json:"errors"`

	Slot        *Slot           `json:"slot,omitempty"`
	Snapshot    []TableSnapshot `json:"snapshot,omitempty"`
	DeadLetters *float64        `json:"dead_letters,omitempty"`
	Accuracy    []Figure        `json:"accuracy,omitempty"`

	LagChart        Chart `json:"lag_chart"`
	ThroughputChart Chart `json:"throughput_chart"`
}

// Slot is a PostgreSQL replication slot's retained WAL and the server's
// max_slot_wal_keep_size (null: unlimited).
type Slot struct {
	RetainedBytes float64  `json:"retained_bytes"`
	MaxBytes      *float64 `json:"max_bytes"`
}

// TableSnapshot is one table's snapshot progress; rate and ETA are null
// until two samples apart show progress.
type TableSnapshot struct {
	Table         string   `json:"table"`
	RowsDone      float64  `json:"rows_done"`
	RowsTotal     float64  `json:"rows_total"` // an estimate taken at its start
	RowsPerSecond *float64 `json:"rows_per_second"`
	ETASeconds    *float64 `json:"eta_seconds"`
}

// Figure is one value of a tributary_accuracy_* series.
type Figure struct {
	Name   string  `json:"name"` // without the prefix
	Labels string  `json:"labels,omitempty"`
	Value  float64 `json:"value"`
}

// Chart is a server-rendered SVG of one series over at most History, how
// many points it draws and how far back its time axis reaches.
type Chart struct {
	SVG         string  `json:"svg"`
	Points      int     `json:"points"`
	SpanSeconds float64 `json:"span_seconds"`
}

// build assembles the page's data from the statuses and the samples.
func build(now time.Time, interval time.Duration, statuses []metrics.SourceStatus, views map[string]view, sampledAt time.Time) Data {
	d := Data{
		GeneratedAt: now, SampledAt: sampledAt,
		IntervalSeconds:   interval.Seconds(),
		HistorySeconds:    History.Seconds(),
		RateWindowSeconds: (rateSamples * interval).Seconds(),
		Sources:           make([]Card, 0, len(statuses)),
	}
	for _, st := range statuses {
		d.Sources = append(d.Sources, card(now, st, views[st.Name]))
	}
	return d
}

func card(now time.Time, st metrics.SourceStatus, v view) Card {
	c := Card{
		Name: st.Name, State: cardState(st), Pipeline: st.State, Since: st.Since,
		LastError: st.LastError, LastErrorAt: st.LastErrorAt,
		CheckpointPosition: st.CheckpointPosition, LastEventAt: st.LastEventAt,
		InFlight: st.InFlight, Retries: st.Retries, Errors: st.Errors,
	}
	if n := len(v.history); n > 0 {
		last := v.history[n-1]
		c.LagMs, c.LagBytes = num(last.lagMs), num(last.lagBytes)
		c.EventsDelivered, c.CheckpointAgeSeconds = num(last.delivered), num(last.checkpointAgeSeconds)
		first := v.history[max(0, n-1-rateSamples)]
		c.EventsPerSecond = rate(first.at, first.delivered, last.at, last.delivered)
		c.BytesPerSecond = rate(first.at, first.bytes, last.at, last.bytes)
	}
	if !math.IsNaN(v.slotRetained) {
		c.Slot = &Slot{RetainedBytes: v.slotRetained}
		if !math.IsNaN(v.slotMax) { // absent: max_slot_wal_keep_size unlimited
			c.Slot.MaxBytes = num(v.slotMax)
		}
	}
	c.DeadLetters = num(v.deadLetters)
	for _, f := range v.accuracy {
		if !math.IsNaN(f.value) {
			c.Accuracy = append(c.Accuracy, Figure{Name: f.name, Labels: f.labels, Value: f.value})
		}
	}
	slices.SortFunc(c.Accuracy, func(a, b Figure) int {
		return strings.Compare(a.Name+"\x00"+a.Labels, b.Name+"\x00"+b.Labels)
	})
	c.Snapshot = tableSnapshots(v.tables)
	c.LagChart = lagChart(now, v.history)
	c.ThroughputChart = throughputChart(now, v.history)
	return c
}

// cardState: failed and restarting come from the pipeline; a streaming
// source is stalled when the stall detector says so, else snapshotting
// while its checkpoint carries snapshot work.
func cardState(st metrics.SourceStatus) string {
	switch st.State {
	case metrics.StateFailed:
		return CardFailed
	case metrics.StateBackoff:
		return CardRestarting
	case metrics.StateStopped:
		return CardStopped
	case metrics.StateStarting:
		if st.Stalled {
			return CardStalled
		}
		return CardStarting
	}
	switch {
	case st.Stalled:
		return CardStalled
	case st.CheckpointSnapshot != "":
		return CardSnapshotting
	}
	for _, t := range st.Snapshot {
		if t.RowsDone < t.RowsTotal {
			return CardSnapshotting
		}
	}
	return CardStreaming
}

func tableSnapshots(tables map[string][]tablePoint) []TableSnapshot {
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	slices.Sort(names)
	out := make([]TableSnapshot, 0, len(names))
	for _, name := range names {
		pts := tables[name]
		if len(pts) == 0 {
			continue
		}
		first, last := pts[0], pts[len(pts)-1]
		ts := TableSnapshot{Table: name, RowsDone: last.done, RowsTotal: last.total}
		if r := rate(first.at, first.done, last.at, last.done); r != nil && *r > 0 {
			ts.RowsPerSecond = r
			if left := last.total - last.done; left > 0 {
				ts.ETASeconds = num(left / *r)
			}
		}
		out = append(out, ts)
	}
	return out
}

// rate is (b−a)/(tb−ta) per second; nil without two samples apart or with
// a value missing.
func rate(ta time.Time, a float64, tb time.Time, b float64) *float64 {
	secs := tb.Sub(ta).Seconds()
	if secs <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return nil
	}
	return num(max(b-a, 0) / secs)
}

// num is a pointer to v, nil for NaN (JSON has no NaN).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
