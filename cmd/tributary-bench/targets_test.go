package main

import (
	"bytes"
	"strings"
	"testing"
)

// fullReport is a source report where every figure exists: Tributary at
// 60,000 events/s against a raw read of 100,000 and kafka-go's 80,000,
// Debezium at 15,000 (4×).
func fullReport(source string) *SourceReport {
	lat := func(rate int, p99 float64, kept bool) *LatencyRun {
		return &LatencyRun{Latency: Latency{TargetRate: rate, WriterRate: float64(rate), P99ms: p99, KeptUp: kept, Rows: 10, Arrived: 10}}
	}
	s := &SourceReport{
		Source:       source,
		RawRead:      Result{Rate: Rate{EventsPerSec: 100_000}},
		KafkaProduce: Result{Rate: Rate{EventsPerSec: 80_000}},
		Contenders: []*ContenderReport{
			{Name: "tributary", CatchUp: &CatchUp{Rate: Rate{EventsPerSec: 60_000}, Footprint: Footprint{PeakRSSMB: 90}},
				Latency: []*LatencyRun{lat(5000, 12, true), lat(20000, 40, true)}},
			{Name: "debezium", Version: "3.2.0.Final", CatchUp: &CatchUp{Rate: Rate{EventsPerSec: 15_000}},
				Latency: []*LatencyRun{lat(5000, 500, true), lat(20000, 900, false)}},
		},
		BigTxs: []*BigTxReport{{MB: 256, Footprint: Footprint{PeakRSSMB: 120}}, {MB: 1024, Footprint: Footprint{PeakRSSMB: 160}}},
		Snapshot: &SnapshotReport{
			RawRead:      Result{Rate: Rate{EventsPerSec: 500_000}},
			KafkaProduce: Result{Rate: Rate{EventsPerSec: 400_000}},
			Contenders: []*SnapshotRun{
				{Name: "tributary", Rate: Rate{EventsPerSec: 100_000}},
				{Name: "debezium", Rate: Rate{EventsPerSec: 20_000}},
			},
		},
	}
	s.computeRatios()
	s.Snapshot.computeRatios()
	return s
}

func TestTargets(t *testing.T) {
	t.Parallel()
	type want struct {
		value    float64
		measured bool
		met      bool
	}
	absent := want{value: -1} // the target must not be listed
	rates := []int{5000, 20000}
	for _, tc := range []struct {
		name   string
		source string
		rates  []int
		edit   func(s *SourceReport)
		want   map[string]want // targets checked; absent means must not be listed
	}{
		{name: "mariadb, all figures", source: "mariadb", rates: rates, want: map[string]want{
			"catch-up vs limit":                      {0.75, true, true}, // 60k of kafka-go's 80k
			"catch-up peak RSS":                      {90, true, true},
			"p99 at 5000 rows/s":                     {12, true, true},
			"kept up at 20000 rows/s":                {40, true, true},
			"256 MiB transaction peak RSS":           {120, true, true},
			"1024 MiB transaction peak RSS":          {160, true, false},
			"snapshot vs limit":                      {0.25, true, false}, // 100k of kafka-go's 400k
			"tributary/debezium catch-up":            {4, true, true},
			"tributary/debezium snapshot":            {5, true, true},
			"debezium/tributary p99 at 5000 rows/s":  {500.0 / 12, true, true},
			"debezium/tributary p99 at 20000 rows/s": {900.0 / 40, true, true},
		}},
		{name: "postgres is against the raw read, not the limit", source: "postgres", rates: rates, want: map[string]want{
			"catch-up vs raw read": {0.6, true, false}, // 60k of the raw 100k, though 0.75 of the limit
			"catch-up vs limit":    absent,
		}},
		{name: "postgres at 0.9 of the raw read", source: "postgres", rates: rates,
			edit: func(s *SourceReport) { s.RawRead.EventsPerSec = 66_000; s.computeRatios() },
			want: map[string]want{"catch-up vs raw read": {60.0 / 66, true, true}}},
		{name: "no raw read figure", source: "postgres", rates: rates,
			edit: func(s *SourceReport) { s.RawRead = Result{Error: "slot gone"}; s.computeRatios() },
			want: map[string]want{"catch-up vs raw read": {0, false, false}}},
		{name: "p99 goal missed when not kept up", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) {
				l := s.contender("tributary").latencyAt(5000)
				l.KeptUp, l.KeptUpNotes = false, "backlog"
			},
			want: map[string]want{"p99 at 5000 rows/s": {12, true, false}, "debezium/tributary p99 at 5000 rows/s": {0, false, false}}},
		{name: "p99 over 20 ms", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.contender("tributary").latencyAt(5000).P99ms = 25 },
			want: map[string]want{"p99 at 5000 rows/s": {25, true, false}}},
		{name: "20000 rows/s not kept up", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.contender("tributary").latencyAt(20000).KeptUp = false },
			want: map[string]want{"kept up at 20000 rows/s": {40, true, false}}},
		{name: "writer slower than the rate", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) {
				s.contender("tributary").latencyAt(5000).WriterRate = 2300
				s.contender("tributary").latencyAt(20000).WriterRate = 2100
			},
			want: map[string]want{"p99 at 5000 rows/s": {0, false, false}, "kept up at 20000 rows/s": {0, false, false},
				"debezium/tributary p99 at 5000 rows/s": {0, false, false}, "debezium/tributary p99 at 20000 rows/s": {0, false, false}}},
		{name: "other rates", source: "mariadb", rates: []int{200},
			edit: func(s *SourceReport) {
				for _, c := range s.Contenders {
					c.Latency = []*LatencyRun{{Latency: Latency{TargetRate: 200, WriterRate: 200, P99ms: 8, KeptUp: true}}}
				}
			},
			want: map[string]want{
				"p99 at 5000 rows/s":      {0, false, false},
				"kept up at 200 rows/s":   {8, true, true},
				"kept up at 20000 rows/s": absent,
			}},
		{name: "latency failed", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) {
				trib := s.contender("tributary")
				trib.Latency, trib.Error = nil, "latency @5000 rows/s: insert failed"
			},
			want: map[string]want{
				"p99 at 5000 rows/s":                    {0, false, false},
				"kept up at 20000 rows/s":               {0, false, false},
				"debezium/tributary p99 at 5000 rows/s": absent,
			}},
		{name: "catch-up failed", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.contender("tributary").CatchUp = nil; s.computeRatios() },
			want: map[string]want{
				"catch-up vs limit":           {0, false, false},
				"catch-up peak RSS":           {0, false, false},
				"tributary/debezium catch-up": absent,
			}},
		{name: "catch-up over 100 MB", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.contender("tributary").CatchUp.Footprint.PeakRSSMB = 184 },
			want: map[string]want{"catch-up peak RSS": {184, true, false}}},
		{name: "Debezium not run: no ratios", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) {
				s.Contenders[1] = &ContenderReport{Name: "debezium", Error: "not run (-debezium=false)"}
				s.Snapshot.Contenders[1] = &SnapshotRun{Name: "debezium", Error: "not run (-debezium=false)"}
				s.computeRatios()
				s.Snapshot.computeRatios()
			},
			want: map[string]want{
				"tributary/debezium catch-up":           absent,
				"tributary/debezium snapshot":           absent,
				"debezium/tributary p99 at 5000 rows/s": absent,
				"catch-up vs limit":                     {0.75, true, true},
			}},
		{name: "Debezium below 3x", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.Contenders[1].CatchUp.EventsPerSec = 30_000; s.computeRatios() },
			want: map[string]want{"tributary/debezium catch-up": {2, true, false}}},
		{name: "skipped runs are listed as not measured", source: "mariadb", rates: nil,
			edit: func(s *SourceReport) {
				s.BigTxs, s.Snapshot = nil, nil
				for _, c := range s.Contenders {
					c.Latency = nil
				}
			},
			want: map[string]want{
				"p99 at 5000 rows/s":           {0, false, false},
				"large transaction peak RSS":   {0, false, false},
				"snapshot vs limit":            {0, false, false},
				"256 MiB transaction peak RSS": absent,
				"tributary/debezium snapshot":  absent,
			}},
		{name: "a failed transaction", source: "mariadb", rates: rates,
			edit: func(s *SourceReport) { s.BigTxs[1].Error = "writing the transaction: too big" },
			want: map[string]want{
				"256 MiB transaction peak RSS":  {120, true, true},
				"1024 MiB transaction peak RSS": {0, false, false},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := fullReport(tc.source)
			if tc.edit != nil {
				tc.edit(s)
			}
			got := map[string]Target{}
			for _, x := range s.targets(tc.rates) {
				if _, dup := got[x.Name]; dup {
					t.Errorf("target %q listed twice", x.Name)
				}
				got[x.Name] = x
			}
			for name, w := range tc.want {
				x, ok := got[name]
				if w == absent {
					if ok {
						t.Errorf("%q listed: %+v", name, x)
					}
					continue
				}
				if !ok {
					t.Errorf("%q missing; got %v", name, got)
					continue
				}
				if x.Measured != w.measured || x.Met != w.met || !near(x.Value, w.value) {
					t.Errorf("%q = %+v; want value %.3f, measured %v, met %v", name, x, w.value, w.measured, w.met)
				}
				if !x.Measured && x.Note == "" {
					t.Errorf("%q not measured and no note why", name)
				}
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The printed block says every target's value and verdict in one line.
func TestPrintTargets(t *testing.T) {
	t.Parallel()
	s := fullReport("mariadb")
	s.Targets = s.targets([]int{5000, 20000})
	var out bytes.Buffer
	printReport(&out, &Report{LatencyRates: []int{5000, 20000}, LatencySeconds: 30, Sources: []*SourceReport{s}})
	// Column widths vary with the values: compare with single spaces.
	var flat []string
	for _, l := range strings.Split(out.String(), "\n") {
		flat = append(flat, strings.Join(strings.Fields(l), " "))
	}
	text := strings.Join(flat, "\n")
	for _, line := range []string{
		"latency @5000 rows/s, 30 s", "latency @20000 rows/s, 30 s",
		"256 MiB 0 120", "1024 MiB 0 160",
		"catch-up vs limit 0.75 ≥ 0.50 met (kafka produce)",
		"1024 MiB transaction peak RSS 160 MB ≤ 150 MB NOT met",
		"kept up at 20000 rows/s p99 40.0 ms kept up met",
		"tributary/debezium catch-up 4.00x ≥ 3.00x met",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("output lacks %q:\n%s", line, text)
		}
	}
}
