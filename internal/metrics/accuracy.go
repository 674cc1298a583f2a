package metrics

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	accRowsDesc = prometheus.NewDesc("tributary_accuracy_rows_checked_total",
		"Source rows the accuracy monitor compared with the digests of their delivered events.",
		[]string{"source", "table"}, nil)
	accMismatchDesc = prometheus.NewDesc("tributary_accuracy_mismatches",
		"Keys that differed between the source table and its topic in the last finished pass, after re-checks: missing from the topic, extra in it, or differing.",
		[]string{"source", "table", "kind"}, nil)
	accLastPassDesc = prometheus.NewDesc("tributary_accuracy_last_pass_timestamp_seconds",
		"When the accuracy monitor last finished comparing the table, Unix seconds.",
		[]string{"source", "table"}, nil)
	accDurationDesc = prometheus.NewDesc("tributary_accuracy_pass_duration_seconds",
		"How long the last comparison of the table took, re-checks included.",
		[]string{"source", "table"}, nil)
	accBehindDesc = prometheus.NewDesc("tributary_accuracy_behind",
		"1 while the accuracy monitor's passes take longer than accuracy.interval.",
		[]string{"source"}, nil)
	accPausedDesc = prometheus.NewDesc("tributary_accuracy_paused",
		"1 while the accuracy monitor is paused because its state exceeds accuracy.state_max_bytes.",
		[]string{"source"}, nil)
	accStateDesc = prometheus.NewDesc("tributary_accuracy_state_bytes",
		"Bytes of keys and digests in the accuracy monitor's state for the source.",
		[]string{"source"}, nil)
)

// Accuracy is one source's accuracy monitor's metrics and status. A nil
// *Accuracy is valid and does nothing.
type Accuracy struct {
	mu         sync.Mutex
	tables     map[string]*AccuracyTable
	behind     bool
	paused     string
	stateBytes int64
	passes     int64
	lastPass   time.Time
}

// AccuracyStatus is the monitor's state in /status. Keys are the events'
// key JSON, up to a few per kind; values are never reported.
type AccuracyStatus struct {
	Passes     int64     `json:"passes"`
	LastPassAt time.Time `json:"last_pass_at,omitzero"`
	Behind     bool      `json:"behind,omitempty"`
	// Paused says why the monitor stopped (its state over its bound).
	Paused     string          `json:"paused,omitempty"`
	StateBytes int64           `json:"state_bytes"`
	Tables     []AccuracyTable `json:"tables"`
}

// AccuracyTable is the last finished comparison of one table.
type AccuracyTable struct {
	Table          string    `json:"table"`
	RowsChecked    int64     `json:"rows_checked"` // over all passes
	LastPassAt     time.Time `json:"last_pass_at,omitzero"`
	PassDurationMs int64     `json:"pass_duration_ms"`
	Missing        int64     `json:"missing"`
	Extra          int64     `json:"extra"`
	Differing      int64     `json:"differing"`
	MissingKeys    []string  `json:"missing_keys,omitempty"`
	ExtraKeys      []string  `json:"extra_keys,omitempty"`
	DifferingKeys  []string  `json:"differing_keys,omitempty"`
}

// Accuracy returns the source's accuracy handle, creating it on the first
// call; from then on /status and /metrics report it.
func (s *Source) Accuracy() *Accuracy {
	if s == nil {
		return nil
	}
	a := &Accuracy{tables: map[string]*AccuracyTable{}}
	if s.accuracy.CompareAndSwap(nil, a) {
		return a
	}
	return s.accuracy.Load()
}

// TableChecked records a finished comparison of table: rows compared, how
// long it took, and the mismatches it found (keys: up to a few per kind).
func (a *Accuracy) TableChecked(t AccuracyTable, rows int64, took time.Duration, at time.Time) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.tables[t.Table]
	if prev != nil {
		t.RowsChecked = prev.RowsChecked
	}
	t.RowsChecked += rows
	t.LastPassAt = at
	t.PassDurationMs = took.Milliseconds()
	a.tables[t.Table] = &t
}

// PassDone counts a finished pass over every table.
func (a *Accuracy) PassDone(at time.Time) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.passes++
	a.lastPass = at
	a.mu.Unlock()
}

// SetBehind records whether passes take longer than their interval.
func (a *Accuracy) SetBehind(behind bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.behind = behind
	a.mu.Unlock()
}

// SetPaused records why the monitor paused ("" when it runs).
func (a *Accuracy) SetPaused(reason string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.paused = reason
	a.mu.Unlock()
}

// SetStateBytes records the size of the source's state.
func (a *Accuracy) SetStateBytes(n int64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.stateBytes = n
	a.mu.Unlock()
}

// Reset forgets every result: the monitor stopped here (a cluster member
// handed its source over), and its last results are the new owner's to
// report, not this member's to keep exporting.
func (a *Accuracy) Reset() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tables = map[string]*AccuracyTable{}
	a.behind, a.paused, a.passes, a.lastPass = false, "", 0, time.Time{}
}

// Status is the monitor's state, tables sorted by name; nil on a nil
// handle.
func (a *Accuracy) Status() *AccuracyStatus {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := &AccuracyStatus{Passes: a.passes, LastPassAt: a.lastPass, Behind: a.behind, Paused: a.paused, StateBytes: a.stateBytes,
		Tables: []AccuracyTable{}}
	for _, name := range slices.Sorted(maps.Keys(a.tables)) {
		t := *a.tables[name]
		t.MissingKeys = slices.Clone(t.MissingKeys)
		t.ExtraKeys = slices.Clone(t.ExtraKeys)
		t.DifferingKeys = slices.Clone(t.DifferingKeys)
		st.Tables = append(st.Tables, t)
	}
	return st
}

// accuracyCollector reports every source's accuracy monitor.
type accuracyCollector struct{ r *Registry }

func (c *accuracyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{accRowsDesc, accMismatchDesc, accLastPassDesc, accDurationDesc, accBehindDesc, accPausedDesc, accStateDesc} {
		ch <- d
	}
}

func (c *accuracyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.list() {
		st := s.accuracy.Load().Status()
		if st == nil {
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.name}, labels...)...)
		}
		gauge(accBehindDesc, boolValue(st.Behind))
		gauge(accPausedDesc, boolValue(st.Paused != ""))
		gauge(accStateDesc, float64(st.StateBytes))
		for _, t := range st.Tables {
			ch <- prometheus.MustNewConstMetric(accRowsDesc, prometheus.CounterValue, float64(t.RowsChecked), s.name, t.Table)
			gauge(accMismatchDesc, float64(t.Missing), t.Table, "missing")
			gauge(accMismatchDesc, float64(t.Extra), t.Table, "extra")
			gauge(accMismatchDesc, float64(t.Differing), t.Table, "differing")
			gauge(accLastPassDesc, float64(t.LastPassAt.UnixMilli())/1e3, t.Table)
			gauge(accDurationDesc, float64(t.PassDurationMs)/1e3, t.Table)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
