package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

func TestMetricsAndHealthz(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	s := reg.Source("crm")
	s.Delivered(3, 120)
	s.Checkpoint("mariadb-bin.000001:900", "", time.Now().Add(-time.Second), time.Now())
	srv := startServer(t, reg)

	code, body := get(t, srv.Addr(), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`tributary_events_delivered_total{source="crm"} 3`,
		`tributary_bytes_delivered_total{source="crm"} 120`,
		`tributary_lag_milliseconds{source="crm"}`,
		`tributary_source_up{source="crm"} 0`,
		`tributary_kafka_produce_latency_seconds_bucket{source="crm",le="0.001"} 0`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	code, body = get(t, srv.Addr(), "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, _ = get(t, srv.Addr(), "/nope")
	if code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := startServer(t, reg)
	check := func(step string, wantCode int, wantReady bool, wantStates map[string]string) {
		t.Helper()
		code, body := get(t, srv.Addr(), "/readyz")
		var got Readiness
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: /readyz body %q: %v", step, body, err)
		}
		if code != wantCode || got.Ready != wantReady || len(got.Sources) != len(wantStates) {
			t.Errorf("%s: /readyz %d %s; want %d ready=%v %v", step, code, body, wantCode, wantReady, wantStates)
		}
		for name, state := range wantStates {
			if got.Sources[name] != state {
				t.Errorf("%s: source %s state %q, want %q", step, name, got.Sources[name], state)
			}
		}
	}

	check("no sources", http.StatusServiceUnavailable, false, nil)
	crm, billing := reg.Source("crm"), reg.Source("billing")
	check("starting", http.StatusServiceUnavailable, false, map[string]string{"crm": "starting", "billing": "starting"})
	streamIdle := func(m *metrics.Source) { // an attempt that confirms it is idle
		m.SetState(metrics.StateStreaming, nil)
		m.SetInFlight(0)
		m.Checkpoint("p", "", time.Now(), time.Now())
	}
	streamIdle(crm)
	check("one streaming", http.StatusServiceUnavailable, false, map[string]string{"crm": "streaming", "billing": "starting"})
	streamIdle(billing)
	check("all streaming", http.StatusOK, true, map[string]string{"crm": "streaming", "billing": "streaming"})
	billing.SetState(metrics.StateBackoff, errors.New("connection lost"))
	check("one in backoff", http.StatusServiceUnavailable, false, map[string]string{"crm": "streaming", "billing": "backoff"})
	streamIdle(billing)
	crm.SetStalled(true)
	check("one stalled", http.StatusServiceUnavailable, false, map[string]string{"crm": "stalled", "billing": "streaming"})
	crm.SetStalled(false)
	check("recovered", http.StatusOK, true, map[string]string{"crm": "streaming", "billing": "streaming"})
}

// A restarted attempt is not ready when it enters "streaming": during a
// Kafka outage each restart would flicker /readyz to 200 until its sink
// fails. Only a checkpoint committed by the attempt, with an event acked
// (or nothing waiting: idle), makes it ready.
func TestReadyzWaitsForDeliveryAfterRestart(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := startServer(t, reg)
	m := reg.Source("crm")
	ready := func(step string, want bool) {
		t.Helper()
		code, body := get(t, srv.Addr(), "/readyz")
		if (code == http.StatusOK) != want {
			t.Errorf("%s: /readyz %d %s, want ready=%v", step, code, body, want)
		}
	}
	m.SetState(metrics.StateStreaming, nil)
	m.SetInFlight(3)
	m.Delivered(3, 300)
	m.Checkpoint("p1", "", time.Now(), time.Now())
	ready("first attempt delivered", true)

	m.SetState(metrics.StateBackoff, errors.New("kafka write failed"))
	m.SetState(metrics.StateStarting, nil)
	m.Checkpoint("p1", "", time.Now(), time.Now()) // resumed from
	ready("restart: starting", false)
	m.SetState(metrics.StateStreaming, nil)
	ready("restart: streaming, nothing delivered", false)
	m.SetInFlight(500)
	ready("restart: events wait for Kafka", false)
	m.Checkpoint("p1", "", time.Now(), time.Now()) // a boundary before them
	ready("restart: a checkpoint, events still wait", false)
	if st := m.Status(); st.Delivering {
		t.Errorf("status delivering = true before any ack: %+v", st)
	}
	m.Delivered(10, 1000)
	m.Checkpoint("p2", "", time.Now(), time.Now())
	ready("restart: delivered", true)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	srv := startServer(t, reg)

	code, body := get(t, srv.Addr(), "/status")
	if code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("/status without sources: %d %q, want 200 []", code, body)
	}

	commit := time.Now().Add(-2 * time.Second).Truncate(time.Millisecond)
	b := reg.Source("billing")
	b.SetState(metrics.StateFailed, errors.New("binlog purged"))
	c := reg.Source("crm")
	c.SetState(metrics.StateStreaming, nil)
	c.Checkpoint("mariadb-bin.000001:900", "", commit, time.Now())
	c.Delivered(10, 1000)
	c.SetInFlight(4)

	code, body = get(t, srv.Addr(), "/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	var got []metrics.SourceStatus
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("/status body %q: %v", body, err)
	}
	if len(got) != 2 || got[0].Name != "billing" || got[1].Name != "crm" {
		t.Fatalf("/status sources = %+v, want billing, crm", got)
	}
	if got[0].State != "failed" || got[0].LastError != "binlog purged" || got[0].LagMs != nil {
		t.Errorf("billing = %+v", got[0])
	}
	cs := got[1]
	if cs.State != "streaming" || cs.CheckpointPosition != "mariadb-bin.000001:900" ||
		!cs.CheckpointCommitTime.Equal(commit) || cs.EventsDelivered != 10 || cs.InFlight != 4 {
		t.Errorf("crm = %+v", cs)
	}
	if cs.LagMs == nil || *cs.LagMs < 2000 {
		t.Errorf("crm lag = %v, want ≥ 2000ms", cs.LagMs)
	}
	if !strings.Contains(body, `"lag_bytes": null`) {
		t.Errorf("unknown lag bytes not null in %s", body)
	}
}

func TestAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	err = New(addr, nil, nil).Run(context.Background())
	want := "admin.addr " + addr + ": address already in use"
	if err == nil || err.Error() != want {
		t.Errorf("Run on a used address: %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
}

func TestAddrBeforeListen(t *testing.T) {
	t.Parallel()
	srv := New(DefaultAddr, nil, nil)
	if srv.Addr() != DefaultAddr {
		t.Errorf("Addr before Listen = %q, want %q", srv.Addr(), DefaultAddr)
	}
}

func TestRunListensItselfAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	srv := New("127.0.0.1:0", nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	// Run listens itself; Addr has the chosen port once it does.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, _ := tryGet(srv.Addr(), "/healthz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(shutdownTimeout + time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := tryGet(srv.Addr(), "/healthz"); err == nil {
		t.Error("still answering after shutdown")
	}
}

func tryGet(addr, path string) (int, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
