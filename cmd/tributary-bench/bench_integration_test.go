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

// TestQuickBench runs the harness in quick mode against the real servers
// so it cannot rot. It checks that every figure was produced and every
// event arrived (counts), never timings: the machine is shared.
func TestQuickBench(t *testing.T) {
	dir := t.TempDir()
	o, err := parseOptions([]string{"-quick", "-json", filepath.Join(dir, "bench.json"),
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
		if l := trib.Latency; l == nil || l.Arrived != l.Rows || l.Rows == 0 || trib.LatencyFootprint.SteadyRSSMB <= 0 {
			t.Errorf("%s: latency rows missing: %+v", s.Source, l)
		}
		if b := s.BigTx; b == nil || b.Error != "" || b.Footprint.PeakRSSMB <= 0 {
			t.Errorf("%s: big transaction: %+v", s.Source, b)
		}
		if dbz := s.contender("debezium"); dbz == nil || !strings.Contains(dbz.Error, "not run") {
			t.Errorf("%s: quick mode must report Debezium as not run: %+v", s.Source, dbz)
		}
	}
}
