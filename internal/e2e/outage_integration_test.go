package e2e

// Outage scenarios against the shared servers: Kafka stopped and frozen,
// MariaDB restarted, the network to MariaDB cut and blackholed, binlogs
// purged past the checkpoint. They stop, freeze or purge servers other tests
// use, so none of them runs in parallel, and each puts its server back in
// t.Cleanup whatever happens.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// services runs scripts/services with args.
func services(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../../scripts/services", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/services %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// stopServer stops one of scripts/services' servers; it is started again
// when the test ends, whatever happened.
func stopServer(t *testing.T, svc string) {
	t.Helper()
	t.Cleanup(func() {
		if err := services("up", svc); err != nil {
			t.Errorf("restore %s: %v", svc, err)
		}
	})
	if err := services("stop", svc); err != nil {
		t.Fatal(err)
	}
}

// startServer starts svc again and returns how long that took.
func startServer(t *testing.T, svc string) time.Duration {
	t.Helper()
	start := time.Now()
	if err := services("up", svc); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// freezeKafka SIGSTOPs the broker; it is continued when the test ends.
func freezeKafka(t *testing.T) (thaw func()) {
	t.Helper()
	pid := kafkaPID(t)
	var once sync.Once
	thaw = func() { once.Do(func() { syscall.Kill(pid, syscall.SIGCONT) }) }
	t.Cleanup(thaw)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("freeze Kafka (pid %d): %v", pid, err)
	}
	return thaw
}

// writeLoad commits the workload's transactions in the background until
// the returned stop is called, which returns the writer's error. The writer
// is also stopped when the test ends.
func writeLoad(t *testing.T, w *workload) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := w.txn(context.Background()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// mustStop stops the writer, failing the test on its error.
func mustStop(t *testing.T, stop func() error) {
	t.Helper()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// setPipeline adds lines (each indented two spaces) to the pipeline section
// of the config at path; writeConfigWith only takes kafka keys.
func setPipeline(t *testing.T, path, lines string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "\npipeline:\n", "\npipeline:\n"+lines+"\n", 1)
	if s == string(b) {
		t.Fatal("config has no pipeline section")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mysqlSource is the MySQL source block for addr with the given timeouts.
func (s *setup) mysqlSource(addr string, heartbeat, readTimeout time.Duration) string {
	return fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    heartbeat: %s
    read_timeout: %s
`, s.Source, addr, testenv.MySQLCDCUser, s.ServerID, s.Database, heartbeat, readTimeout)
}

// rssBytes is the resident set size of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read RSS of pid %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// rssSampler samples a process's RSS every 100ms until stopped.
type rssSampler struct {
	mu      sync.Mutex
	peak    int64
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func sampleRSS(t *testing.T, pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err == nil {
				if m := vmRSS.FindSubmatch(b); m != nil {
					kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
					r.mu.Lock()
					r.peak = max(r.peak, kb<<10)
					r.samples++
					r.mu.Unlock()
				}
			}
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { r.finish() })
	return r
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

// finish stops sampling and returns the peak and the number of samples.
func (r *rssSampler) finish() (peak int64, samples int) {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak, r.samples
}

const mib = 1 << 20

var sinkFailedAt = regexp.MustCompile(`time=(\S+) level=ERROR msg="kafka sink failed`)

// firstSinkFailure is when, after since, the daemon first logged that its
// Kafka sink failed.
func firstSinkFailure(d *daemon, since time.Time) string {
	for _, m := range sinkFailedAt.FindAllStringSubmatch(d.logs.String(), -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && at.After(since) {
			return at.Sub(since).Round(time.Millisecond).String()
		}
	}
	return "never"
}

// keepLog saves the daemon's whole log to a file when the test fails (the
// failure report shows only its tail).
func keepLog(t *testing.T, d *daemon) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		f, err := os.CreateTemp("", strings.ReplaceAll(t.Name(), "/", "_")+"-*.log")
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(d.logs.String())
		t.Logf("whole tributary log: %s", f.Name())
	})
}

// count is how often the daemon has logged msg (a slog text "msg=" value).
func (d *daemon) count(msg string) int {
	return strings.Count(d.logs.String(), msg)
}

// waitCaughtUp waits until the collector holds at least n distinct events
// and returns how long that took. The daemon logs "streaming" at the start
// of every attempt, also of those that fail at once, so only delivery shows
// that it really recovered.
func waitCaughtUp(t *testing.T, c *collector, n int64, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, timeout, fmt.Sprintf("%d changes to reach Kafka", n), func() bool {
		evs, errs := c.snapshot()
		if len(errs) > 0 {
			t.Fatalf("consuming: %v", errs)
		}
		unique, _ := dedupe(evs)
		return int64(len(unique)) >= n
	})
	return time.Since(start)
}

// waitProgress waits until the writer has committed at least n more changes.
func waitProgress(t *testing.T, w *workload, n int64) {
	t.Helper()
	from := w.progress.Load()
	testenv.Eventually(t, time.Minute, fmt.Sprintf("the writer to commit %d changes", n), func() bool {
		return w.progress.Load()-from >= n
	})
}

// Kafka is stopped for 30 s under write load and then started again. While
// it is away the daemon may hold at most pipeline.max_in_flight events (and
// the sink kafka.max_in_flight messages), so its memory stays bounded however
// far the binlog runs ahead; afterwards every change arrives.
func TestKafkaOutageBoundsMemoryAndDeliversAll(t *testing.T) {
	const maxInFlight = 5000
	// What may stay resident: the Go runtime, go-mysql, kafka-go and Badger
	// (tuned to 1 MiB tables and caches) come to a few tens of MiB; on top,
	// the pipeline's and the sink's in-flight windows, each at most
	// maxInFlight messages of under 1 KiB encoded (the workload's rows are
	// ~300 bytes), counted at 8 KiB each for kafka-go's batch copies,
	// compression buffers and garbage not yet collected. An unbounded reader
	// would instead buffer the whole outage's binlog.
	const rssBound = 100*mib + 2*maxInFlight*8<<10 // ≈ 178 MiB
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, fmt.Sprintf("  max_in_flight: %d", maxInFlight))
	setPipeline(t, cfg, fmt.Sprintf("  max_in_flight: %d", maxInFlight))
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	pid := d.cmd.Process.Pid
	readyz := "http://" + d.adminAddr(t) + "/readyz"
	testenv.Eventually(t, 30*time.Second, "/readyz to answer 200 before the outage", func() bool {
		code, _ := getStatus(readyz)
		return code == http.StatusOK
	})

	w := newWorkload(db, s.Database, 2000, 21)
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 3000)
	baseline := rssBytes(t, pid)

	// The collector keeps running: its readers are recreated while the
	// broker is away and go on from where they were.
	rss := sampleRSS(t, pid)
	atStop := w.progress.Load()
	stopServer(t, "kafka")
	down := time.Now()
	ready := pollReadyz(readyz, 100*time.Millisecond)
	time.Sleep(30 * time.Second) // the outage under load; not synchronisation
	during := ready.finish()
	duringOutage := w.progress.Load() - atStop
	restarted := d.count("pipeline failed")
	startup := startServer(t, "kafka")
	back := time.Now()
	var readyAgain time.Duration
	testenv.Eventually(t, 2*time.Minute, "/readyz to answer 200 after Kafka is back", func() bool {
		code, _ := getStatus(readyz)
		readyAgain = time.Since(back)
		return code == http.StatusOK
	})
	waitProgress(t, w, 2000) // load goes on while the daemon catches up
	mustStop(t, stopWriter)
	peak, samples := rss.finish()

	dups := waitDelivered(t, c, w, 5*time.Minute)
	recovery := time.Since(back)
	checkFinalState(t, db, w)
	t.Logf("RSS: baseline %.1f MiB, peak %.1f MiB over %d samples during the outage and catch-up (bound %.0f MiB); "+
		"%d changes written during the 30s outage (%d×max_in_flight); %d pipeline restarts logged while Kafka was down; "+
		"Kafka took %s to start; all %d changes delivered %s after it was back; %d duplicates; collector readers recreated %d times",
		float64(baseline)/mib, float64(peak)/mib, samples, float64(rssBound)/mib,
		duringOutage, duringOutage/maxInFlight, restarted, startup.Round(time.Millisecond),
		w.changes, recovery.Round(time.Millisecond), dups, c.readerRestarts())
	t.Logf("/readyz during the outage: %s; 200 again %s after Kafka was back", during.summary(down), readyAgain.Round(time.Millisecond))
	if during.notReady == 0 {
		t.Errorf("/readyz never answered 503 during the 30s Kafka outage (%s)", during.summary(down))
	}
	if duringOutage < 2*maxInFlight {
		t.Errorf("only %d changes were written during the outage: too few to test the in-flight bound of %d", duringOutage, maxInFlight)
	}
	if peak >= rssBound {
		t.Errorf("peak RSS %.1f MiB during the Kafka outage exceeds the bound %.0f MiB derived from max_in_flight %d",
			float64(peak)/mib, float64(rssBound)/mib, maxInFlight)
	}
	d.stop(t)
}

// The broker is frozen (SIGSTOP) for longer than kafka.write_timeout ×
// max_attempts: produce requests time out, the sink fails, the pipeline
// restarts from its checkpoint; once the broker continues every change
// arrives in per-key commit order.
func TestFrozenKafkaLongerThanWriteTimeout(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, "") // write_timeout 5s, max_attempts 3
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)

	w := newWorkload(db, s.Database, 2000, 22)
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 2000)

	failedBefore := d.count("pipeline failed")
	frozen := time.Now()
	thaw := freezeKafka(t)
	time.Sleep(25 * time.Second) // the freeze under load; not synchronisation
	failuresFrozen := d.count("pipeline failed") - failedBefore
	thaw()
	thawed := time.Now()
	// The failed attempt must end and a new one start from the checkpoint
	// soon after the broker is back, whatever was queued in kafka-go.
	restartDeadline := 60 * time.Second
	for d.count("pipeline failed") == failedBefore {
		if time.Since(thawed) > restartDeadline {
			t.Fatalf("the sink failed %s into the freeze, but %s after the broker continued the pipeline has not restarted; "+
				"meanwhile kafka-go logged %d produce attempts refused by the blown fuse (the failed attempt is still draining its queue)",
				firstSinkFailure(d, frozen), restartDeadline, d.count("not producing after an earlier failure"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	restarted := time.Since(thawed)
	waitProgress(t, w, 2000)
	mustStop(t, stopWriter)

	dups := waitDelivered(t, c, w, 5*time.Minute)
	recovery := time.Since(thawed)
	checkFinalState(t, db, w)
	failures := d.count("pipeline failed") - failedBefore
	t.Logf("broker frozen 25s: sink failed %s into the freeze; %d pipeline restarts during the freeze, the next %s after it continued; %d in all; "+
		"all %d changes delivered %s after it continued; %d duplicates",
		firstSinkFailure(d, frozen), failuresFrozen, restarted.Round(time.Millisecond), failures,
		w.changes, recovery.Round(time.Millisecond), dups)
	d.stop(t)
}

// With the daemon stopped, the binlogs its checkpoint points into are
// purged. The next start cannot resume: the daemon must exit non-zero soon,
// naming the lost position and what to do about it.
func TestBinlogPurgedPastCheckpointStopsWithAdvice(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, "")
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	w := newWorkload(db, s.Database, 100, 25)
	if err := w.run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, c, w, 2*time.Minute)
	d.stop(t)
	checkpoint := position(t, committedPosition(t, cfg, s.Source))

	// Changes the daemon has not seen, then their binlog is gone.
	if err := w.run(context.Background(), 600); err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, db, "FLUSH BINARY LOGS")
	newest := newestBinlog(t, db)
	// The server keeps a file while a dump thread still reads it, and the
	// stopped daemon's thread may take a moment to go away.
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("PURGE BINARY LOGS TO '%s' to remove %s", newest, checkpoint.File), func() bool {
		testenv.Exec(t, db, fmt.Sprintf("PURGE BINARY LOGS TO '%s'", newest))
		for _, f := range binlogs(t, db) {
			if f == checkpoint.File {
				return false
			}
		}
		return true
	})

	start := time.Now()
	d = startDaemon(t, "run", "-c", cfg)
	select {
	case <-d.waited:
	case <-time.After(60 * time.Second):
		t.Fatalf("tributary still runs 60s after starting with a purged checkpoint:\n%s", tail(d.logs.String(), 3000))
	}
	logs := d.logs.String()
	if d.err == nil {
		t.Fatalf("tributary exited 0 with its checkpoint purged:\n%s", tail(logs, 3000))
	}
	for _, want := range []string{
		checkpoint.File,             // the lost position
		"no longer on the server",   // what happened
		"re-snapshot",               // what to do
		"rewind",                    // or this
		"SHOW BINARY LOGS",          // and where to look
		"source " + s.Source + ": ", // which source
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the daemon's output does not contain %q:\n%s", want, tail(logs, 3000))
		}
	}
	t.Logf("checkpoint %s purged (server now starts at %s): exited with %v after %s; last line:\n%s",
		checkpoint, newest, d.err, time.Since(start).Round(time.Millisecond), lastLine(logs))
}

// binlogs lists the server's binlog files, oldest first.
func binlogs(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var files []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return files
}

func newestBinlog(t *testing.T, db *sql.DB) string {
	t.Helper()
	files := binlogs(t, db)
	if len(files) == 0 {
		t.Fatal("SHOW BINARY LOGS lists no file")
	}
	return files[len(files)-1]
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// grepLines returns the lines of s containing any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// readyzPoller polls /readyz in the background until finished.
type readyzPoller struct {
	stop, done      chan struct{}
	ready, notReady int
	other           int           // no answer or another code
	firstNotReady   time.Time     // zero: never
	longestNotReady time.Duration // the longest run of 503s
	runStart        time.Time
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
				p.runStart = time.Time{}
			case http.StatusServiceUnavailable:
				p.notReady++
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
	return fmt.Sprintf("%d×503, %d×200, %d other of %d polls; first 503 %s, longest run of 503s %s",
		p.notReady, p.ready, p.other, p.notReady+p.ready+p.other, first, p.longestNotReady.Round(time.Millisecond))
}
