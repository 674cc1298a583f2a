package e2e

// What the tests read of a running daemon's state: its admin endpoint
// (/readyz, /status, /metrics) and, once it is stopped, its checkpoint
// store through `tributary checkpoints`. Checks read these rather than the
// daemon's log: the log is worded for people and may change, the state is
// what operators and monitoring rely on.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The admin endpoint listens on port 0 (tests run side by side), and only
// the start line says which port that became.
var adminAddrLogged = regexp.MustCompile(`msg="tributary running".* admin=(\S+)`)

// loggedAdminAddr is the admin address once the daemon has logged it.
func (d *daemon) loggedAdminAddr() (string, bool) {
	if m := adminAddrLogged.FindStringSubmatch(d.logs.String()); m != nil {
		return m[1], true
	}
	return "", false
}

func (d *daemon) adminAddr(t *testing.T) string {
	t.Helper()
	var addr string
	testenv.Eventually(t, 30*time.Second, "the daemon to log its admin address", func() bool {
		d.requireRunning(t)
		addr, _ = d.loggedAdminAddr()
		return addr != ""
	})
	return addr
}

// requireRunning fails the test if the daemon has exited.
func (d *daemon) requireRunning(t *testing.T) {
	t.Helper()
	select {
	case <-d.waited:
		t.Fatalf("tributary exited: %v\n%s", d.err, tail(d.logs.String(), 3000))
	default:
	}
}

// waitStreaming waits until /readyz answers 200: every source is streaming.
// A source enters that state at the start of every attempt, also of one
// that fails at once, so only delivery shows that it really streams.
func (d *daemon) waitStreaming(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, "tributary to start streaming", func() bool {
		d.requireRunning(t)
		addr, ok := d.loggedAdminAddr()
		if !ok {
			return false
		}
		code, _ := getStatus("http://" + addr + "/readyz")
		return code == http.StatusOK
	})
}

// statuses is GET /status: every source's state and counters.
func (d *daemon) statuses(t *testing.T) []metrics.SourceStatus {
	t.Helper()
	sts, err := d.tryStatuses(d.adminAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

func (d *daemon) tryStatuses(addr string) ([]metrics.SourceStatus, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/status")
	if err != nil {
		return nil, fmt.Errorf("GET /status: %w", err)
	}
	defer resp.Body.Close()
	var sts []metrics.SourceStatus
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&sts); err != nil {
		return nil, fmt.Errorf("decode /status: %w", err)
	}
	return sts, nil
}

// status is /status for the daemon's only source.
func (d *daemon) status(t *testing.T) metrics.SourceStatus {
	t.Helper()
	sts := d.statuses(t)
	if len(sts) != 1 {
		t.Fatalf("/status lists %d sources, want 1: %+v", len(sts), sts)
	}
	return sts[0]
}

// restarts is how often the daemon's only source restarted from its
// checkpoint after a retryable failure (/status retries): the state behind
// the "pipeline failed; restarting" warning.
func (d *daemon) restarts(t *testing.T) uint64 {
	t.Helper()
	return d.status(t).Retries
}

// metric is one series' value on /metrics (false: the series is absent).
func (d *daemon) metric(t *testing.T, series string) (float64, bool) {
	t.Helper()
	_, body := httpGet(t, "http://"+d.adminAddr(t)+"/metrics")
	return metricValue(body, series)
}

// restartsByKind is tributary_retries_total of the daemon's source: its
// restarts by the kind of failure (kafka, source, checkpoint).
func (d *daemon) restartsByKind(t *testing.T, source string) map[string]float64 {
	t.Helper()
	_, body := httpGet(t, "http://"+d.adminAddr(t)+"/metrics")
	out := map[string]float64{}
	for _, kind := range []string{metrics.KindKafka, metrics.KindSource, metrics.KindCheckpoint} {
		if v, ok := metricValue(body, `tributary_retries_total{kind="`+kind+`",source="`+source+`"}`); ok && v > 0 {
			out[kind] = v
		}
	}
	return out
}

// failure is one pipeline failure as /status showed it.
type failure struct {
	at  time.Time // last_error_at: when the daemon recorded it
	err string
}

// failureWatch polls the daemon's /status in the background and keeps every
// failure of its only source, each with the time the daemon recorded it.
// Failures are backed off by at least restart_backoff_min (200ms), so a
// 50ms poll sees each one.
type failureWatch struct {
	mu       sync.Mutex
	failures []failure
	stop     chan struct{}
	done     chan struct{}
}

func (d *daemon) watchFailures(t *testing.T) *failureWatch {
	t.Helper()
	addr := d.adminAddr(t)
	w := &failureWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var last time.Time
		for {
			if sts, err := d.tryStatuses(addr); err == nil && len(sts) == 1 && sts[0].LastErrorAt.After(last) {
				last = sts[0].LastErrorAt
				w.mu.Lock()
				w.failures = append(w.failures, failure{at: last, err: sts[0].LastError})
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.finish)
	return w
}

func (w *failureWatch) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// since is the failures recorded after t, oldest first.
func (w *failureWatch) since(t time.Time) []failure {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []failure
	for _, f := range w.failures {
		if f.at.After(t) {
			out = append(out, f)
		}
	}
	return out
}

// firstAfter is how long after t the first failure since t was recorded
// (0: none yet).
func (w *failureWatch) firstAfter(t time.Time) time.Duration {
	if fs := w.since(t); len(fs) > 0 {
		return fs[0].at.Sub(t)
	}
	return 0
}

// committedPosition is the source's checkpoint as `tributary checkpoints
// list` shows it (the daemon must be stopped: the store is locked while it
// runs).
func committedPosition(t *testing.T, cfg, source string) string {
	t.Helper()
	out, err := runCLI(t, "checkpoints", "list", "-c", cfg)
	if err != nil {
		t.Fatalf("checkpoints list: %v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == source {
			return f[1]
		}
	}
	t.Fatalf("checkpoints list shows no position for %s:\n%s", source, out)
	return ""
}

// checkpointHistory is the source's committed checkpoints, oldest first, as
// `tributary checkpoints show --json` lists them (newest first, bounded by
// checkpoints.history; the daemon must be stopped).
func checkpointHistory(t *testing.T, cfg, source string) []checkpoints.Checkpoint {
	t.Helper()
	out, err := runCLI(t, "checkpoints", "show", "--json", "-c", cfg, "--source", source)
	if err != nil {
		t.Fatalf("checkpoints show: %v\n%s", err, out)
	}
	var hist []checkpoints.Checkpoint
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var cp checkpoints.Checkpoint
		if err := json.Unmarshal([]byte(l), &cp); err != nil {
			t.Fatalf("checkpoints show --json line %q: %v", l, err)
		}
		hist = append(hist, cp)
	}
	slices.Reverse(hist)
	return hist
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getStatus GETs url with a short timeout; code 0 means no answer.
func getStatus(url string) (int, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// metricValue finds one series' value in a Prometheus text exposition.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func statusBody(t *testing.T, addr string) string {
	t.Helper()
	_, body := httpGet(t, "http://"+addr+"/status")
	return body
}

// readyzPoller polls /readyz in the background until finished.
type readyzPoller struct {
	stop, done      chan struct{}
	sawNotReady     atomic.Bool // readable while polling
	ready, notReady int
	// readyAfterNotReady counts 200s after the first 503: a restarted
	// attempt reporting ready before it delivered (a flicker).
	readyAfterNotReady int
	other              int           // no answer or another code
	firstNotReady      time.Time     // zero: never
	longestNotReady    time.Duration // the longest run of 503s
	runStart           time.Time
}

func pollReadyz(url string, every time.Duration) *readyzPoller {
	p := &readyzPoller{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			code, _ := getStatus(url)
			now := time.Now()
			switch code {
			case http.StatusOK:
				p.ready++
				if !p.firstNotReady.IsZero() {
					p.readyAfterNotReady++
				}
				p.runStart = time.Time{}
			case http.StatusServiceUnavailable:
				p.notReady++
				p.sawNotReady.Store(true)
				if p.firstNotReady.IsZero() {
					p.firstNotReady = now
				}
				if p.runStart.IsZero() {
					p.runStart = now
				}
				p.longestNotReady = max(p.longestNotReady, now.Sub(p.runStart))
			default:
				p.other++
			}
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	return p
}

// finish stops polling; the poller's counts may be read afterwards.
func (p *readyzPoller) finish() *readyzPoller {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	return p
}

func (p *readyzPoller) summary(since time.Time) string {
	first := "never"
	if !p.firstNotReady.IsZero() {
		first = p.firstNotReady.Sub(since).Round(time.Millisecond).String() + " in"
	}
	return fmt.Sprintf("%d×503, %d×200 (%d after the first 503), %d other of %d polls; first 503 %s, longest run of 503s %s",
		p.notReady, p.ready, p.readyAfterNotReady, p.other, p.notReady+p.ready+p.other, first, p.longestNotReady.Round(time.Millisecond))
}
