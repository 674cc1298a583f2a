package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// The goals for Tributary on this machine. Ratios are within one
// run (ours over the limit or over Debezium), so they mean something on a
// shared box; the memory and latency bounds are absolute.
const (
	p99Rate         = 5000 // rows/s of the latency goal
	p99MaxMs        = 20
	catchUpMaxRSSMB = 100
	bigTxMaxRSSMB   = 150
	snapshotMinVs   = 0.5 // of the snapshot's physical limit
	minVsDebezium   = 3   // Tributary over Debezium, wherever Debezium ran
)

// catchUpGoal is the catch-up goal per source kind: on MariaDB against
// the physical limit (the lower of the raw binlog read and kafka-go's
// produce), on PostgreSQL against the raw WAL read alone.
var catchUpGoal = map[string]struct {
	against string // "limit" or "raw read"
	min     float64
}{
	"mariadb":  {"limit", 0.5},
	"postgres": {"raw read", 0.9},
}

// Target is one goal checked against a run. A goal whose figure this run
// did not produce is listed with Measured false and Note saying why, so a
// script comparing runs sees the same names every time (except the
// Debezium ratios, listed only where Debezium ran).
type Target struct {
	Name string `json:"name"`
	// Op is ">=" or "<=" (Value against Threshold), or "kept up": Met
	// says whether the latency run kept up, Value is its p99 and
	// Threshold is unused.
	Op        string  `json:"op"`
	Threshold float64 `json:"threshold"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit,omitempty"` // "MB", "ms", "x" (times); none for a ratio
	Measured  bool    `json:"measured"`
	Met       bool    `json:"met"`
	Note      string  `json:"note,omitempty"`
}

func goal(name, op string, threshold float64, unit string) Target {
	return Target{Name: name, Op: op, Threshold: threshold, Unit: unit}
}

// measure records v; Met follows from Op and Threshold.
func (t Target) measure(v float64) Target {
	t.Value, t.Measured = v, true
	switch t.Op {
	case ">=":
		t.Met = v >= t.Threshold
	case "<=":
		t.Met = v <= t.Threshold
	}
	return t
}

func (t Target) missing(why string) Target {
	t.Measured, t.Met, t.Note = false, false, why
	return t
}

// targets checks this source's figures against the goals; rates are the
// run's -latency-rate list.
func (s *SourceReport) targets(rates []int) []Target {
	trib := s.contender("tributary")
	if trib == nil {
		trib = &ContenderReport{Name: "tributary", Error: "not run"}
	}
	why := func(def string) string {
		if trib.Error != "" {
			return trib.Error
		}
		return def
	}
	var ts []Target

	cg, ok := catchUpGoal[s.Source]
	if !ok {
		cg.against, cg.min = "limit", 0.5
	}
	t := goal("catch-up vs "+cg.against, ">=", cg.min, "")
	ratio, by := trib.VsLimit, s.LimitBy
	if cg.against == "raw read" {
		ratio, by = trib.VsRawRead, ""
	}
	switch {
	case trib.CatchUp == nil:
		t = t.missing(why("no catch-up"))
	case ratio <= 0:
		t = t.missing("no " + cg.against + " figure")
	default:
		t = t.measure(ratio)
		t.Note = by
	}
	ts = append(ts, t)

	t = goal("catch-up peak RSS", "<=", catchUpMaxRSSMB, "MB")
	if trib.CatchUp == nil {
		t = t.missing(why("no catch-up"))
	} else {
		t = t.measure(trib.CatchUp.Footprint.PeakRSSMB)
	}
	ts = append(ts, t)

	ts = append(ts, latencyTargets(trib, rates, why)...)
	ts = append(ts, s.bigTxTargets()...)

	t = goal("snapshot vs limit", ">=", snapshotMinVs, "")
	var sn *SnapshotRun
	if s.Snapshot != nil {
		sn = s.Snapshot.contender("tributary")
	}
	switch {
	case s.Snapshot == nil:
		t = t.missing("no snapshot run (-snapshot-rows 0)")
	case sn == nil || sn.Error != "":
		t = t.missing(firstOf(s.Snapshot.Error, errorOf(sn), "no Tributary snapshot"))
	case sn.VsLimit <= 0:
		t = t.missing("no snapshot limit figure")
	default:
		t = t.measure(sn.VsLimit)
		t.Note = s.Snapshot.LimitBy
	}
	ts = append(ts, t)

	return append(ts, s.debeziumTargets(trib, rates)...)
}

func latencyTargets(trib *ContenderReport, rates []int, why func(string) string) []Target {
	var ts []Target
	t := goal(fmt.Sprintf("p99 at %d rows/s", p99Rate), "<=", p99MaxMs, "ms")
	hasGoalRate := false
	for _, r := range rates {
		hasGoalRate = hasGoalRate || r == p99Rate
	}
	l := trib.latencyAt(p99Rate)
	switch {
	case !hasGoalRate:
		t = t.missing(fmt.Sprintf("no latency run at %d rows/s (-latency-rate)", p99Rate))
	case l == nil:
		t = t.missing(why("no latency run"))
	case writerShort(&l.Latency) != "":
		t = t.missing(writerShort(&l.Latency))
	default:
		t = t.measure(l.P99ms)
		if !l.KeptUp { // a p99 over the rows that arrived says nothing then
			t.Met, t.Note = false, "did not keep up: "+l.KeptUpNotes
		}
	}
	ts = append(ts, t)
	for _, r := range rates {
		if r == p99Rate {
			continue
		}
		t := goal(fmt.Sprintf("kept up at %d rows/s", r), "kept up", 0, "ms")
		if l := trib.latencyAt(r); l == nil {
			t = t.missing(why("no latency run"))
		} else if short := writerShort(&l.Latency); short != "" {
			t = t.missing(short)
		} else {
			t = t.measure(l.P99ms)
			t.Met, t.Note = l.KeptUp, l.KeptUpNotes
		}
		ts = append(ts, t)
	}
	return ts
}

func (s *SourceReport) bigTxTargets() []Target {
	if len(s.BigTxs) == 0 {
		return []Target{goal("large transaction peak RSS", "<=", bigTxMaxRSSMB, "MB").missing("no large transaction (-bigtx-mb 0)")}
	}
	var ts []Target
	for _, b := range s.BigTxs {
		t := goal(fmt.Sprintf("%d MiB transaction peak RSS", b.MB), "<=", bigTxMaxRSSMB, "MB")
		if b.Error != "" {
			t = t.missing(b.Error)
		} else {
			t = t.measure(b.Footprint.PeakRSSMB)
		}
		ts = append(ts, t)
	}
	return ts
}

// debeziumTargets are Tributary over Debezium, for each figure both
// produced: catch-up and snapshot rates, and latency as Debezium's p99
// over Tributary's at each rate.
func (s *SourceReport) debeziumTargets(trib *ContenderReport, rates []int) []Target {
	var ts []Target
	for _, c := range s.Contenders {
		if c.Name != "debezium" {
			continue
		}
		if c.TributaryVsThis > 0 && trib.CatchUp != nil {
			ts = append(ts, goal("tributary/debezium catch-up", ">=", minVsDebezium, "x").measure(c.TributaryVsThis))
		}
		for _, r := range rates {
			d, o := c.latencyAt(r), trib.latencyAt(r)
			if d == nil || o == nil || o.P99ms <= 0 {
				continue
			}
			// Both must have seen the rate, and Tributary must have kept up:
			// Debezium falling behind only makes the ratio an understatement.
			t := goal(fmt.Sprintf("debezium/tributary p99 at %d rows/s", r), ">=", minVsDebezium, "x")
			switch {
			case writerShort(&o.Latency) != "":
				t = t.missing("tributary's run: " + writerShort(&o.Latency))
			case writerShort(&d.Latency) != "":
				t = t.missing("debezium's run: " + writerShort(&d.Latency))
			case !o.KeptUp:
				t = t.missing("tributary did not keep up: " + o.KeptUpNotes)
			default:
				t = t.measure(d.P99ms / o.P99ms)
			}
			ts = append(ts, t)
		}
	}
	if s.Snapshot != nil {
		if d := s.Snapshot.contender("debezium"); d != nil && d.TributaryVsThis > 0 {
			ts = append(ts, goal("tributary/debezium snapshot", ">=", minVsDebezium, "x").measure(d.TributaryVsThis))
		}
	}
	return ts
}

func errorOf(r *SnapshotRun) string {
	if r == nil {
		return ""
	}
	return r.Error
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// printTargets is the source's goals block: target, measured, met or not.
func printTargets(w io.Writer, ts []Target) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(w, "\n")
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t, "  targets, tributary\tmeasured\ttarget\t")
	for _, x := range ts {
		value, status := "—", "not measured: "+x.Note
		if x.Measured {
			value, status = formatValue(x), "met"
			if !x.Met {
				status = "NOT met"
			}
			if x.Note != "" {
				status += " (" + x.Note + ")"
			}
		}
		want := "kept up"
		if x.Op != "kept up" {
			want = map[string]string{">=": "≥", "<=": "≤"}[x.Op] + " " + formatNumber(x.Threshold, x.Unit)
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\n", x.Name, value, want, status)
	}
	t.Flush()
}

func formatValue(x Target) string {
	if x.Op == "kept up" {
		return "p99 " + formatNumber(x.Value, x.Unit)
	}
	return formatNumber(x.Value, x.Unit)
}

func formatNumber(v float64, unit string) string {
	switch unit {
	case "MB":
		return fmt.Sprintf("%.0f MB", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "x":
		return fmt.Sprintf("%.2fx", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// writerShort says why a latency run measured nothing at its rate: the
// writer could not commit rows that fast on this machine (below 90 % of
// the rate), so a p99 or "kept up" would describe a lighter load.
func writerShort(l *Latency) string {
	if l.TargetRate <= 0 || l.WriterRate >= 0.9*float64(l.TargetRate) {
		return ""
	}
	return fmt.Sprintf("the writer reached only %.0f of %d rows/s", l.WriterRate, l.TargetRate)
}
