package console

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

func TestRingKeepsTheNewestInOrder(t *testing.T) {
	t.Parallel()
	r := newRing(3)
	t0 := time.Unix(0, 0)
	for i := range 5 {
		r.add(sample{at: t0.Add(time.Duration(i) * time.Second)})
	}
	got := r.all()
	if len(got) != 3 || got[0].at.Unix() != 2 || got[2].at.Unix() != 4 {
		t.Fatalf("all() = %v, want seconds 2, 3, 4", got)
	}
}

func TestHistoryIsBoundedToAnHour(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.reg.Source("a")
	con := New(r.reg.Prometheus(), r.reg.Statuses, time.Minute, WithClock(r.clock.now))
	for range 70 {
		con.Sample()
		r.clock.advance(time.Minute)
	}
	views, _ := con.sampler.read()
	if h := views["a"].history; len(h) != 60 || h[59].at.Sub(h[0].at) != 59*time.Minute {
		t.Fatalf("%d samples kept at a 1 min interval, want 60 (an hour)", len(h))
	}
	if c := New(prometheus.NewRegistry(), nil, 0).sampler.capacity(); c != 720 {
		t.Errorf("default capacity %d, want 720", c)
	}
	if c := New(prometheus.NewRegistry(), nil, time.Millisecond).sampler.interval; c != MinInterval {
		t.Errorf("interval %s, want it clamped to %s", c, MinInterval)
	}
}

func TestCardFiguresComeFromTheMetrics(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := r.reg.Source("crm")
	src.SetState(metrics.StateStreaming, nil)
	src.SetLagBytes(4096)
	src.Checkpoint("bin.000001:100", "", r.clock.now().Add(-250*time.Millisecond), r.clock.now())
	r.con.Sample()
	for range 10 {
		r.clock.advance(time.Second)
		src.Delivered(50, 5000)
		r.con.Sample()
	}
	c := r.card(t, "crm")
	if c.State != CardStreaming || c.Pipeline != metrics.StateStreaming {
		t.Errorf("state %s (pipeline %s), want streaming", c.State, c.Pipeline)
	}
	// The rate averages the last rateSamples intervals: 50 events a second.
	if val(c.EventsPerSecond) != 50.0 || val(c.BytesPerSecond) != 5000.0 || val(c.EventsDelivered) != 500.0 {
		t.Errorf("events/s %v, bytes/s %v, delivered %v; want 50, 5000, 500", val(c.EventsPerSecond), val(c.BytesPerSecond), val(c.EventsDelivered))
	}
	if val(c.LagBytes) != 4096.0 || val(c.LagMs) != 10250.0 || val(c.CheckpointAgeSeconds) != 10.0 {
		t.Errorf("lag %v ms, %v bytes, checkpoint age %v s; want 10250, 4096, 10", val(c.LagMs), val(c.LagBytes), val(c.CheckpointAgeSeconds))
	}
	if c.CheckpointPosition != "bin.000001:100" {
		t.Errorf("position %q", c.CheckpointPosition)
	}
	if c.LagChart.Points != 11 || c.ThroughputChart.Points != 10 {
		t.Errorf("chart points: lag %d, throughput %d; want 11 and 10", c.LagChart.Points, c.ThroughputChart.Points)
	}
	if c.Slot != nil || c.Accuracy != nil || c.Snapshot != nil {
		t.Errorf("optional panels without their series: %+v %v %v", c.Slot, c.Accuracy, c.Snapshot)
	}
	if val(c.DeadLetters) != 0.0 {
		t.Errorf("dead letters %v, want 0 (the series exists for every source)", val(c.DeadLetters))
	}
}

func TestOptionalPanelsAppearWithTheirSeries(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.reg.Source("orders").SetState(metrics.StateStreaming, nil)
	src := r.reg.Source("orders")
	src.Accuracy().TableChecked(metrics.AccuracyTable{Table: "public.items", Differing: 3}, 10, time.Second, time.Unix(1.7e9, 0))
	src.SetRetention(1<<20, -1, -1)
	src.DeadLetter(metrics.DeadLetterMapping)
	src.DeadLetter(metrics.DeadLetterMapping)
	src.DeadLetter(metrics.DeadLetterOversized)
	r.con.Sample()

	c := r.card(t, "orders")
	want := map[Figure]bool{
		{Name: "mismatches", Labels: "kind=differing, table=public.items", Value: 3}:      true,
		{Name: "last_pass_timestamp_seconds", Labels: "table=public.items", Value: 1.7e9}: true,
	}
	for _, f := range c.Accuracy {
		delete(want, f)
	}
	if len(want) > 0 {
		t.Errorf("accuracy %+v lacks %+v", c.Accuracy, want)
	}
	if c.Slot == nil || c.Slot.RetainedBytes != 1<<20 || c.Slot.MaxBytes != nil {
		t.Errorf("slot %+v, want 1 MiB retained, no limit", c.Slot)
	}
	if val(c.DeadLetters) != 3.0 {
		t.Errorf("dead letters %v, want 3 (both kinds)", val(c.DeadLetters))
	}
}

func TestSnapshotRateAndETA(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	src := r.reg.Source("crm")
	src.SetState(metrics.StateStreaming, nil)
	for i := range 5 {
		src.SnapshotProgress("crm.customers", int64(i*100), 1000)
		r.con.Sample()
		r.clock.advance(time.Second)
	}
	c := r.card(t, "crm")
	if c.State != CardSnapshotting {
		t.Errorf("state %s, want snapshotting", c.State)
	}
	if len(c.Snapshot) != 1 {
		t.Fatalf("snapshot %+v", c.Snapshot)
	}
	s := c.Snapshot[0]
	if s.RowsDone != 400 || s.RowsTotal != 1000 || val(s.RowsPerSecond) != 100.0 || val(s.ETASeconds) != 6.0 {
		t.Errorf("%+v rate %v eta %v; want 400/1000 at 100 rows/s, 6 s left", s, val(s.RowsPerSecond), val(s.ETASeconds))
	}
}

func TestCardState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		st   metrics.SourceStatus
		want string
	}{
		{metrics.SourceStatus{State: metrics.StateStreaming}, CardStreaming},
		{metrics.SourceStatus{State: metrics.StateStreaming, Stalled: true}, CardStalled},
		{metrics.SourceStatus{State: metrics.StateStreaming, CheckpointSnapshot: "v1:…"}, CardSnapshotting},
		{metrics.SourceStatus{State: metrics.StateStreaming, Snapshot: []metrics.TableProgress{{RowsDone: 1, RowsTotal: 2}}}, CardSnapshotting},
		{metrics.SourceStatus{State: metrics.StateStreaming, Snapshot: []metrics.TableProgress{{RowsDone: 2, RowsTotal: 2}}}, CardStreaming},
		{metrics.SourceStatus{State: metrics.StateBackoff, Stalled: true}, CardRestarting},
		{metrics.SourceStatus{State: metrics.StateFailed}, CardFailed},
		{metrics.SourceStatus{State: metrics.StateStarting}, CardStarting},
		{metrics.SourceStatus{State: metrics.StateStopped}, CardStopped},
	} {
		if got := cardState(tc.st); got != tc.want {
			t.Errorf("cardState(%+v) = %s, want %s", tc.st, got, tc.want)
		}
	}
}

func TestFailedSourceCarriesItsError(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.reg.Source("crm").SetState(metrics.StateFailed, errors.New("preflight: access denied for user 'tributary'"))
	r.con.Sample()
	c := r.card(t, "crm")
	if c.State != CardFailed || !strings.Contains(c.LastError, "access denied") {
		t.Errorf("state %s, error %q", c.State, c.LastError)
	}
}

// Names and errors reach the page only as JSON strings (which escape <, >
// and &), never in the SVG.
func TestNothingFromTheSourcesInMarkup(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	evil := `<img src=x onerror=alert(1)>`
	r.reg.Source(evil).SetState(metrics.StateFailed, errors.New(evil))
	r.con.Sample()
	rec := httptest.NewRecorder()
	r.con.Data().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/data", nil))
	if body := rec.Body.String(); strings.Contains(body, "<img") {
		t.Errorf("the JSON carries raw markup: %s", body)
	}
	c := r.card(t, evil)
	for _, svg := range []string{c.LagChart.SVG, c.ThroughputChart.SVG} {
		if strings.Contains(svg, "onerror") || strings.Contains(svg, "alert") {
			t.Errorf("the SVG carries the source's text: %s", svg)
		}
	}
}

func TestPageRoutes(t *testing.T) {
	t.Parallel()
	page := New(prometheus.NewRegistry(), nil, 0).Page()
	for path, want := range map[string]int{
		"/": 200, "/console/app.js": 200, "/console/app.css": 200,
		"/console/index.html": 404, "/console/../app.js": 404, "/console/nope.js": 404,
	} {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
		if want == 200 && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s without a content security policy", path)
		}
	}
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if body := rec.Body.String(); strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("the page loads something from elsewhere:\n%s", body)
	}
}

func TestChartSVG(t *testing.T) {
	t.Parallel()
	now := time.Unix(10_000, 0)
	pts := []point{
		{now.Add(-3 * time.Minute), 100}, {now.Add(-2 * time.Minute), 300},
		{now.Add(-time.Minute), math.NaN()}, // a gap splits the line
		{now, 150},
	}
	c := render(now, "Lag", pts, formatMs)
	if c.Points != 3 || strings.Count(c.SVG, "<polyline") != 1 || strings.Count(c.SVG, "<circle") != 1 {
		t.Errorf("points %d, SVG %s; want one line of two and one dot", c.Points, c.SVG)
	}
	if c.SpanSeconds != 300 || !strings.Contains(c.SVG, ">−5 min<") {
		t.Errorf("span %v s, want the 5 min that hold 3 min of samples: %s", c.SpanSeconds, c.SVG)
	}
	if !strings.Contains(c.SVG, `data-points="3"`) || !strings.Contains(c.SVG, "over the last 5 min: now 150 ms, highest 300 ms") {
		t.Errorf("SVG %s", c.SVG)
	}
	for v, want := range map[float64]float64{0: 1, 0.3: 0.5, 7: 10, 120: 200, 1000: 1000, 4100: 5000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for ms, want := range map[float64]string{250: "250 ms", 1500: "1.5 s", 90_000: "1.5 min", 7_200_000: "2 h"} {
		if got := formatMs(ms); got != want {
			t.Errorf("formatMs(%v) = %q, want %q", ms, got, want)
		}
	}
}

func TestChartDownsamplesKeepingPeaks(t *testing.T) {
	t.Parallel()
	now := time.Unix(100_000, 0)
	pts := make([]point, 3600)
	for i := range pts {
		pts[i] = point{now.Add(time.Duration(i-3599) * time.Second), 10}
	}
	pts[1234].v = 999              // a one-second peak
	pts[2000].v = math.NaN()       // a one-second gap inside a run: the run keeps its value
	for i := 3000; i < 3100; i++ { // a long gap stays one
		pts[i].v = math.NaN()
	}
	c := render(now, "Lag", pts, formatMs)
	if c.Points > maxChartPoints || c.Points < maxChartPoints-20 {
		t.Errorf("%d points drawn of 3600 samples, want about %d", c.Points, maxChartPoints)
	}
	if !strings.Contains(c.SVG, "highest 999 ms") || strings.Count(c.SVG, "<polyline") != 2 {
		t.Errorf("the peak or the gap was lost: %s", c.SVG[:300])
	}
}
