package e2e

// PostgreSQL outage scenarios against the shared servers: the server
// restarted under load, and the network between the daemon and the server
// cut and blackholed through a proxy. Like the MariaDB ones they stop or
// disturb a shared server, so none runs in parallel, and each restores it in
// t.Cleanup.

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// pgSource is the PostgreSQL source block of this setup for addr, with the
// given heartbeat and status interval.
func (s *pgSetup) pgSource(addr string, heartbeat, statusInterval time.Duration) string {
	return fmt.Sprintf(`
  - name: %s
    kind: postgres
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.*"]
    heartbeat: %s
    status_interval: %s
`, s.Source, addr, testenv.PGCDCUser, s.Database, s.slot(), s.publication(), heartbeat, statusInterval)
}

// The daemon reads PostgreSQL (replication and SQL connections) through a
// proxy; the writer writes directly. Mid-load the proxy's connections are
// cut; later the path is blackholed for longer than the daemon should take
// to notice a silent replication connection, then healed.
//
// What could notice the blackhole: the daemon writes a standby status
// update every status_interval (200ms here) and emits a heartbeat message
// into the WAL every heartbeat (1s), which the server decodes and streams
// back, so a healthy replication connection never stays silent for more
// than about a heartbeat; a receive deadline of a few heartbeats would
// catch a dead path. The server, for its part, drops a walsender whose
// client sent no status for wal_sender_timeout (set to 5s on the test's
// database, so that the slot is free again soon for the reconnect), but in
// a blackhole its FIN never reaches the daemon either.
func TestNetworkCutAndBlackholeToPostgres(t *testing.T) {
	const (
		heartbeat, statusInterval = time.Second, 200 * time.Millisecond
		walSenderTimeout          = 5 * time.Second
		// noticeBound is generous: 10 heartbeats without a byte from the
		// server, or twice the server's own wal_sender_timeout.
		noticeBound = 10 * heartbeat
		hole        = 30 * time.Second
	)
	s, c := preparePG(t)
	testenv.Exec(t, s.db, fmt.Sprintf("ALTER DATABASE %s SET wal_sender_timeout = '%dms'", s.Database, walSenderTimeout.Milliseconds()))
	proxy := testenv.StartProxy(t, testenv.PGAddr())
	cfg := s.writeConfigWith(t, "", s.pgSource(proxy.Addr(), heartbeat, statusInterval))
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	admin := "http://" + d.adminAddr(t)
	senderTimeout := walSenderTimeoutOf(t, s)

	w := newWorkload(s.db, "", 2000, 32)
	w.postgres = true
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 2000)

	// Cut: the connections die at once.
	failed := d.count("pipeline failed")
	cut := w.progress.Load()
	cutAt := time.Now()
	proxy.Cut()
	testenv.Eventually(t, 30*time.Second, "the daemon to notice the cut connection", func() bool {
		return d.count("pipeline failed") > failed
	})
	cutNoticed := time.Since(cutAt)
	afterCut := waitCaughtUp(t, c, cut, time.Minute)
	cutFailures := d.count("pipeline failed") - failed
	waitProgress(t, w, 2000)

	// Blackhole: the connections stay open and go silent.
	failed = d.count("pipeline failed")
	logOffset := len(d.logs.String())
	pgLogOffset := pgLogSize()
	holed := time.Now()
	proxy.Blackhole(true)
	var noticed time.Duration
	var stacks string
	for time.Since(holed) < hole {
		if noticed == 0 && d.count("pipeline failed") > failed {
			noticed = time.Since(holed)
		}
		if noticed == 0 && stacks == "" && time.Since(holed) > noticeBound {
			// Where the replication reader waits, for the report.
			_, body := httpGet(t, admin+"/debug/pprof/goroutine?debug=2")
			stacks = goroutinesWith(body, "capture/postgres")
		}
		time.Sleep(50 * time.Millisecond)
	}
	failuresInHole := d.count("pipeline failed") - failed
	_, statusInHole := httpGet(t, admin+"/status")
	restored := w.progress.Load()
	restoredAt := time.Now()
	proxy.Restore()
	afterRestore := waitCaughtUp(t, c, restored, 2*time.Minute)
	failuresAfterRestore := d.count("pipeline failed") - failed - failuresInHole
	failedAfterRestore := firstPipelineFailure(d, restoredAt)
	holeLog := d.logs.String()[logOffset:]
	pgLog := pgLogSince(pgLogOffset)
	waitProgress(t, w, 2000)
	mustStop(t, stopWriter)

	dups := waitDelivered(t, c, w, 5*time.Minute)
	checkFinalState(t, s.db, w)
	t.Logf("cut: noticed after %s, %d pipeline failures, caught up %s after; "+
		"blackhole of %s: first failure after %s, %d failures during the hole, %d after restore; caught up %s after restore; "+
		"%d changes delivered; %d duplicates",
		cutNoticed.Round(time.Millisecond), cutFailures, afterCut.Round(time.Millisecond),
		hole, durationOrNever(noticed), failuresInHole, failuresAfterRestore, afterRestore.Round(time.Millisecond),
		w.changes, dups)
	t.Logf("daemon warnings and errors from the blackhole on:\n%s", grepLines(holeLog, "level=WARN", "level=ERROR"))
	t.Logf("PostgreSQL log from the blackhole on (wal_sender_timeout %s on the test database):\n%s", senderTimeout,
		grepLines(pgLog, "replication", "walsender", "timeout", s.slot()))
	if noticed == 0 || noticed > noticeBound {
		t.Errorf("the daemon did not notice the blackholed PostgreSQL connection within %s (heartbeat %s, status_interval %s): "+
			"first pipeline failure after %s of a %s hole, %d failures in it; the dead connection failed only once the path healed (%d failures, the first %s after restore)\n"+
			"/status %s into the hole: %s\ngoroutines of capture/postgres %s into the hole:\n%s",
			noticeBound, heartbeat, statusInterval, durationOrNever(noticed), hole, failuresInHole,
			failuresAfterRestore, durationOrNever(failedAfterRestore), hole, statusInHole, noticeBound, stacks)
	}
	d.stop(t)
}

// walSenderTimeoutOf is wal_sender_timeout as a new session on the test's
// database sees it (the per-database setting applies to its walsenders too).
func walSenderTimeoutOf(t *testing.T, s *pgSetup) string {
	t.Helper()
	db, err := sql.Open("pgx", testenv.PGURL(s.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow("SHOW wal_sender_timeout").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

var pipelineFailedAt = regexp.MustCompile(`time=(\S+) level=WARN msg="pipeline failed`)

// firstPipelineFailure is how long after since the daemon first logged a
// pipeline failure (0: not yet).
func firstPipelineFailure(d *daemon, since time.Time) time.Duration {
	for _, m := range pipelineFailedAt.FindAllStringSubmatch(d.logs.String(), -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && at.After(since) {
			return at.Sub(since)
		}
	}
	return 0
}

func durationOrNever(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

// goroutinesWith keeps the goroutines of a debug=2 dump that mention sub.
func goroutinesWith(dump, sub string) string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, sub) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// pgLogPath is the server log scripts/services writes.
func pgLogPath() string {
	dir := os.Getenv("TRIBUTARY_SERVICES_DIR")
	if dir == "" {
		dir = "../../.services"
	}
	return filepath.Join(dir, "postgres", "postgres.log")
}

func pgLogSize() int64 {
	fi, err := os.Stat(pgLogPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// pgLogSince is the server log from offset on ("" if unreadable).
func pgLogSince(offset int64) string {
	b, err := os.ReadFile(pgLogPath())
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}
