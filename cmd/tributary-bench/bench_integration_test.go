package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postgresSnapshotConfig says PostgreSQL sources take the snapshot: key.
// While false, a Tributary build that refuses it on a PostgreSQL source is
// logged instead of failing the test; true makes that a failure too.
const postgresSnapshotConfig = true

// TestQuickBench runs the harness in quick mode against the real servers
// so it cannot rot. It checks that every figure was produced and every
// event arrived (counts), never timings: the machine is shared.
func TestQuickBench(t *testing.T) {
	dir := t.TempDir()
	// Two rates and two sizes (the larger first) exercise the lists.
	o, err := parseOptions([]string{"-quick", "-latency-rate", "200,300", "-bigtx-mb", "8,4", "-json", filepath.Join(dir, "bench.json"),
		"-tributary", filepath.Join(dir, "missing-so-built")})
	if err != nil {
		t.Fatal(err)
	}
	// go test runs in the package directory; the harness expects the repo root.
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := run(ctx, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sources) != 2 {
		t.Fatalf("%d sources measured, want 2", len(rep.Sources))
	}
	for _, s := range rep.Sources {
		if s.Error != "" {
			t.Errorf("%s: %s", s.Source, s.Error)
			continue
		}
		if s.Workload.Changes < o.n || s.Workload.Messages != s.Workload.Changes+s.Workload.Deletes {
			t.Errorf("%s: workload %+v", s.Source, s.Workload)
		}
		for name, r := range map[string]Result{"raw read": s.RawRead, "kafka-go": s.KafkaProduce} {
			if r.Error != "" || r.EventsPerSec <= 0 || r.Bytes <= 0 {
				t.Errorf("%s %s: %+v", s.Source, name, r)
			}
		}
		trib := s.contender("tributary")
		if trib == nil || trib.Error != "" || trib.CatchUp == nil {
			t.Errorf("%s: tributary did not catch up: %+v", s.Source, trib)
			continue
		}
		if trib.CatchUp.Events != s.Workload.Changes || trib.CatchUp.Bytes <= 0 || trib.VsLimit <= 0 ||
			trib.CatchUp.Footprint.PeakRSSMB <= 0 {
			t.Errorf("%s: catch-up figures missing: %+v", s.Source, trib.CatchUp)
		}
		if len(trib.Latency) != len(o.latencyRates) {
			t.Errorf("%s: %d latency runs, want one per rate %v", s.Source, len(trib.Latency), o.latencyRates)
		}
		for _, rate := range o.latencyRates {
			if l := trib.latencyAt(rate); l == nil || l.Arrived != l.Rows || l.Rows == 0 || l.Footprint.SteadyRSSMB <= 0 {
				t.Errorf("%s: latency rows missing at %d rows/s: %+v", s.Source, rate, l)
			}
		}
		if len(s.BigTxs) != len(o.bigTxMBs) {
			t.Errorf("%s: %d large transactions, want one per size %v", s.Source, len(s.BigTxs), o.bigTxMBs)
		}
		for i, b := range s.BigTxs {
			if b.Error != "" || b.MB != o.bigTxMBs[i] || b.Rows != int64(b.MB)*1024 || b.Footprint.PeakRSSMB <= 0 {
				t.Errorf("%s: big transaction: %+v", s.Source, b)
			}
		}
		checkTargets(t, s)
		if dbz := s.contender("debezium"); dbz == nil || !strings.Contains(dbz.Error, "not run") {
			t.Errorf("%s: quick mode must report Debezium as not run: %+v", s.Source, dbz)
		}
		checkSnapshot(t, o, s)
	}
}

// checkSnapshot checks the snapshot run's counts: every row read by the
// raw reader, one message per row from Tributary, as many from kafka-go.
func checkSnapshot(t *testing.T, o *options, s *SourceReport) {
	sn := s.Snapshot
	if sn == nil || sn.Error != "" || sn.Rows != o.snapshotRows {
		t.Errorf("%s: snapshot run: %+v", s.Source, sn)
		return
	}
	if r := sn.RawRead; r.Error != "" || r.Events != sn.Rows || r.Bytes <= 0 {
		t.Errorf("%s: snapshot raw read: %+v", s.Source, r)
	}
	if dbz := sn.contender("debezium"); dbz == nil || !strings.Contains(dbz.Error, "not run") {
		t.Errorf("%s: quick mode must report Debezium's snapshot as not run: %+v", s.Source, dbz)
	}
	trib := sn.contender("tributary")
	if trib == nil {
		t.Errorf("%s: no Tributary snapshot run", s.Source)
		return
	}
	if s.Source == "postgres" && !postgresSnapshotConfig && strings.Contains(trib.Error, "refuses the snapshot config") {
		t.Logf("postgres: Tributary's snapshot not measured, the daemon does not take snapshot: on PostgreSQL sources yet "+
			"(set postgresSnapshotConfig once it does): %s", trib.Error)
		return
	}
	if trib.Error != "" || trib.Events != sn.Rows || trib.Messages != sn.Rows || trib.Bytes <= 0 ||
		trib.Footprint.PeakRSSMB <= 0 || trib.VsLimit <= 0 {
		t.Errorf("%s: Tributary snapshot: %+v", s.Source, trib)
	}
	if k := sn.KafkaProduce; k.Error != "" || k.Events != sn.Rows || k.Bytes <= 0 {
		t.Errorf("%s: snapshot kafka-go produce: %+v", s.Source, k)
	}
}

// checkTargets checks that every goal quick mode can measure was measured,
// never whether it was met: that is a timing or a footprint on a shared box.
func checkTargets(t *testing.T, s *SourceReport) {
	measured := map[string]bool{}
	for _, x := range s.Targets {
		measured[x.Name] = x.Measured
	}
	want := []string{"catch-up vs limit", "catch-up peak RSS", "kept up at 200 rows/s", "kept up at 300 rows/s",
		"8 MiB transaction peak RSS", "4 MiB transaction peak RSS", "snapshot vs limit"}
	if s.Source == "postgres" {
		want[0] = "catch-up vs raw read"
	}
	for _, name := range want {
		if !measured[name] {
			t.Errorf("%s: target %q not measured: %+v", s.Source, name, s.Targets)
		}
	}
	if m, ok := measured["p99 at 5000 rows/s"]; !ok || m {
		t.Errorf("%s: the p99 goal at 5000 rows/s must be listed as not measured in quick mode: %+v", s.Source, s.Targets)
	}
}
