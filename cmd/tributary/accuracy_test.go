package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/verify"
)

// fakeMonitor counts its runs and how many run now.
type fakeMonitor struct {
	runs, active, checks atomic.Int32
}

func (f *fakeMonitor) Run(ctx context.Context) error {
	f.runs.Add(1)
	f.active.Add(1)
	defer f.active.Add(-1)
	<-ctx.Done()
	return nil
}

func (f *fakeMonitor) Check(context.Context, [][2]string) (verify.Report, error) {
	f.checks.Add(1)
	return verify.Report{}, nil
}

// A cluster member runs a source's accuracy monitor only while it runs the
// source, answers POST /verify for it only then, and drops the monitor's
// results when the source leaves.
func TestAccuracyMonitorRunsOnlyOnTheOwner(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	m := &fakeMonitor{}
	am := &accuracyMonitors{monitors: map[string]sourceMonitor{"crm": m}, reg: reg, clustered: true, running: map[string]bool{}}
	verifyCRM := func() error {
		_, err := am.verifyRequests([]string{"crm", "billing"})(context.Background(), "crm", nil)
		return err
	}

	if err := verifyCRM(); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("verify on a standby: %v, want ErrUnavailable (verify then reads the topics itself)", err)
	}
	if m.runs.Load() != 0 {
		t.Fatal("a standby ran the monitor")
	}

	reg.Source("crm").Accuracy().PassDone(time.Now())
	ctx, release := context.WithCancel(context.Background())
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- am.runOwned(ctx, "crm", func(ctx context.Context) error {
			close(running)
			<-ctx.Done()
			return nil
		})
	}()
	<-running
	deadline := time.Now().Add(5 * time.Second)
	for m.active.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the owner's monitor did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if err := verifyCRM(); err != nil || m.checks.Load() != 1 {
		t.Fatalf("verify on the owner: %v (%d checks)", err, m.checks.Load())
	}

	release() // the group gave the source to another member
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.active.Load() != 0 {
		t.Fatal("the monitor still runs after its source was released")
	}
	if st := reg.Source("crm").Accuracy().Status(); st.Passes != 0 {
		t.Fatalf("a former owner still reports the monitor's results: %+v", st)
	}
	if err := verifyCRM(); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("verify after the release: %v, want ErrUnavailable", err)
	}

	// A source without a monitor just runs.
	ran := false
	if err := am.runOwned(context.Background(), "billing", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("runOwned without a monitor: ran %v, %v", ran, err)
	}
}

// A single daemon's monitors answer for every source.
func TestAccuracyMonitorSingleDaemonAnswers(t *testing.T) {
	t.Parallel()
	m := &fakeMonitor{}
	am := &accuracyMonitors{monitors: map[string]sourceMonitor{"crm": m}, reg: metrics.NewRegistry(), running: map[string]bool{}}
	if _, err := am.verifyRequests([]string{"crm"})(context.Background(), "crm", nil); err != nil {
		t.Fatal(err)
	}
}
