package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Rate is a throughput in row changes (events) and bytes; MB are 10^6 bytes.
type Rate struct {
	Events       int64   `json:"events"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_s"`
	MBPerSec     float64 `json:"mb_per_s"`
}

func newRate(events, bytes int64, d time.Duration) Rate {
	s := max(d.Seconds(), 1e-3)
	return Rate{Events: events, Bytes: bytes, Seconds: s, EventsPerSec: float64(events) / s, MBPerSec: float64(bytes) / 1e6 / s}
}

// Result is a rate or why there is none.
type Result struct {
	Rate
	Error string `json:"error,omitempty"`
}

func result(r Rate, err error) Result {
	if err != nil {
		return Result{Error: err.Error()}
	}
	return Result{Rate: r}
}

type Report struct {
	Started        string          `json:"started"`
	Host           string          `json:"host"`
	CPUs           int             `json:"cpus"`
	N              int64           `json:"n"`
	LatencyRates   []int           `json:"latency_rates_rows_per_s"`
	LatencySeconds float64         `json:"latency_seconds"`
	BigTxMBs       []int           `json:"bigtx_mibs"`
	SnapshotRows   int64           `json:"snapshot_rows"`
	SnapshotChunk  int             `json:"snapshot_chunk_size"`
	Seconds        float64         `json:"seconds"`
	Sources        []*SourceReport `json:"sources"`
}

type SourceReport struct {
	Source       string             `json:"source"`
	Label        string             `json:"label"`
	Error        string             `json:"error,omitempty"`
	Workload     Workload           `json:"workload"`
	RawRead      Result             `json:"raw_read"`
	KafkaProduce Result             `json:"kafka_produce"`
	Limit        float64            `json:"limit_events_per_s"`
	LimitBy      string             `json:"limit_by"`
	Contenders   []*ContenderReport `json:"contenders"`
	BigTxs       []*BigTxReport     `json:"big_transactions,omitempty"` // one per -bigtx-mb size, in its order
	Snapshot     *SnapshotReport    `json:"snapshot,omitempty"`
	// Targets are the goals for Tributary, checked against this
	// run's figures (targets.go).
	Targets []Target `json:"targets"`
}

type ContenderReport struct {
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"` // Debezium's release
	Error   string   `json:"error,omitempty"`
	CatchUp *CatchUp `json:"catch_up,omitempty"`
	// Latency holds one run per -latency-rate rate, in its order; a rate
	// whose run failed is missing (Error says why).
	Latency         []*LatencyRun `json:"latency_runs,omitempty"`
	VsLimit         float64       `json:"ours_vs_limit,omitempty"`
	VsRawRead       float64       `json:"ours_vs_raw_read,omitempty"`
	TributaryVsThis float64       `json:"tributary_vs_this,omitempty"`
}

// LatencyRun is one fixed-rate latency run and the process's footprint
// during it.
type LatencyRun struct {
	Latency
	Footprint Footprint `json:"footprint"`
}

func (c *ContenderReport) latencyAt(rate int) *LatencyRun {
	for _, l := range c.Latency {
		if l.TargetRate == rate {
			return l
		}
	}
	return nil
}

// CatchUp is the rate from the first to the last acknowledged event;
// FirstEventSeconds is the start-up time before it (process start to
// first event), TotalSeconds process start to the last ack.
type CatchUp struct {
	Rate
	FirstEventSeconds float64   `json:"first_event_seconds"`
	TotalSeconds      float64   `json:"total_seconds"`
	Footprint         Footprint `json:"footprint"`
}

func (s *SourceReport) contender(name string) *ContenderReport {
	for _, c := range s.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// limitOf is the physical limit: the lower of the source's raw read and
// kafka-go's produce rate, and which of them it is.
func limitOf(raw, produce Result) (float64, string) {
	switch {
	case raw.Error == "" && produce.Error == "":
		if produce.EventsPerSec < raw.EventsPerSec {
			return produce.EventsPerSec, "kafka produce"
		}
		return raw.EventsPerSec, "source read"
	case raw.Error == "":
		return raw.EventsPerSec, "source read (kafka-go figure missing)"
	}
	return 0, ""
}

func (s *SourceReport) computeRatios() {
	s.Limit, s.LimitBy = limitOf(s.RawRead, s.KafkaProduce)
	trib := s.contender("tributary")
	if trib == nil || trib.CatchUp == nil {
		return
	}
	trib.VsLimit, trib.VsRawRead = 0, 0
	if s.Limit > 0 {
		trib.VsLimit = trib.CatchUp.EventsPerSec / s.Limit
	}
	if s.RawRead.Error == "" && s.RawRead.EventsPerSec > 0 {
		trib.VsRawRead = trib.CatchUp.EventsPerSec / s.RawRead.EventsPerSec
	}
	for _, c := range s.Contenders {
		c.TributaryVsThis = 0
		if c.Name != "tributary" && c.CatchUp != nil && c.CatchUp.EventsPerSec > 0 {
			c.TributaryVsThis = trib.CatchUp.EventsPerSec / c.CatchUp.EventsPerSec
		}
	}
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "\nTributary benchmark — %s, %s, %d CPUs; %d row changes per source; %.0f s\n",
		r.Started, r.Host, r.CPUs, r.N, r.Seconds)
	fmt.Fprintln(w, "Shared machine: compare the ratios within this run, not absolute numbers across runs.")
	for _, s := range r.Sources {
		printSource(w, r, s)
	}
}

func printSource(w io.Writer, r *Report, s *SourceReport) {
	wl := s.Workload
	fmt.Fprintf(w, "\n== %s: %d changes (%d inserts, %d updates, %d deletes) in %d transactions, %d Kafka messages with tombstones\n",
		s.Label, wl.Changes, wl.Inserts, wl.Updates, wl.Deletes, wl.Txns, wl.Messages)
	if s.Error != "" {
		fmt.Fprintf(w, "   ERROR: %s\n", s.Error)
	}
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(t, "catch-up\tevents/s\tMB/s\tvs limit\ttributary/this\tfirst event s\tpeak RSS MB\tCPU s\t")
	rateRow := func(name string, res Result) {
		if res.Error != "" || res.Events == 0 {
			fmt.Fprintf(t, "%s\t—\t—\t\t\t\t\t\t\n", name)
			return
		}
		fmt.Fprintf(t, "%s\t%.0f\t%.1f\t\t\t\t\t\t\n", name, res.EventsPerSec, res.MBPerSec)
	}
	rateRow("raw read (no decoding)", s.RawRead)
	rateRow("kafka-go produce alone", s.KafkaProduce)
	if s.Limit > 0 {
		fmt.Fprintf(t, "physical limit (%s)\t%.0f\t\t\t\t\t\t\t\n", s.LimitBy, s.Limit)
	} else {
		fmt.Fprintf(t, "physical limit\t—\t\t\t\t\t\t\t\n")
	}
	for _, c := range s.Contenders {
		if c.CatchUp == nil {
			fmt.Fprintf(t, "%s\t—\t—\t\t\t\t\t\t\n", label(c.Name, c.Version))
			continue
		}
		cu := c.CatchUp
		vsLimit, vsThis := "", ""
		if c.VsLimit > 0 {
			vsLimit = fmt.Sprintf("%.2f", c.VsLimit)
		}
		if c.TributaryVsThis > 0 {
			vsThis = fmt.Sprintf("%.2fx", c.TributaryVsThis)
		}
		fmt.Fprintf(t, "%s\t%.0f\t%.1f\t%s\t%s\t%.1f\t%.0f\t%.1f\t\n", label(c.Name, c.Version), cu.EventsPerSec, cu.MBPerSec,
			vsLimit, vsThis, cu.FirstEventSeconds, cu.Footprint.PeakRSSMB, cu.Footprint.CPUSeconds)
	}
	t.Flush()
	for _, rate := range r.LatencyRates {
		printLatency(w, s, rate, r.LatencySeconds)
	}
	printBigTxs(w, s.BigTxs)
	if s.Snapshot != nil {
		printSnapshot(w, s.Snapshot)
	}
	var notes []string
	for _, x := range []struct {
		name string
		err  string
	}{{"raw read", s.RawRead.Error}, {"kafka-go produce", s.KafkaProduce.Error}} {
		if x.err != "" {
			notes = append(notes, x.name+": "+x.err)
		}
	}
	for _, c := range s.Contenders {
		if c.Error != "" {
			notes = append(notes, c.Name+": "+c.Error)
		}
		for _, l := range c.Latency {
			if l.KeptUpNotes != "" {
				notes = append(notes, fmt.Sprintf("%s latency @%d rows/s: %s", c.Name, l.TargetRate, l.KeptUpNotes))
			}
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "   note: %s\n", strings.TrimSpace(n))
	}
	printTargets(w, s.Targets)
}

// printLatency is one rate's block: a row per contender that ran at it.
func printLatency(w io.Writer, s *SourceReport, rate int, seconds float64) {
	fmt.Fprintf(w, "\n")
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(t, "latency @%d rows/s, %.0f s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tinsert p99 ms\twriter rows/s\tarrived\tkept up\tsteady RSS MB\tpeak RSS MB\tCPU s\t\n", rate, seconds)
	for _, c := range s.Contenders {
		if c.Name == "tributary-avro" {
			continue // the latency probe reads JSON
		}
		l := c.latencyAt(rate)
		if l == nil {
			fmt.Fprintf(t, "%s\t—\t—\t—\t—\t\t\t\t\t\t\t\t\n", label(c.Name, c.Version))
			continue
		}
		kept := "yes"
		if !l.KeptUp {
			kept = "NO"
		}
		fmt.Fprintf(t, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%d/%d\t%s\t%.0f\t%.0f\t%.1f\t\n", label(c.Name, c.Version), l.P50ms, l.P95ms, l.P99ms, l.Maxms,
			l.InsertP99ms, l.WriterRate, l.Arrived, l.Rows, kept, l.Footprint.SteadyRSSMB, l.Footprint.PeakRSSMB, l.Footprint.CPUSeconds)
	}
	t.Flush()
}
