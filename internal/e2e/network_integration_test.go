package e2e

// The network between the daemon and its source server cut and blackholed
// through a proxy, for each source kind. The writer writes directly; only
// the daemon's connections (replication and SQL) go through the proxy.

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// heartbeat is rig.source's.
const heartbeat = time.Second

// netCase is one source kind's cut-and-blackhole run.
type netCase struct {
	kind sourceKind
	seed uint64
	// liveness is read_timeout (MariaDB) or status_interval (PostgreSQL).
	liveness time.Duration
	// hole is how long the path stays blackholed; noticeBound how soon the
	// daemon must fail on the silent connection.
	hole, noticeBound time.Duration
	// minFailuresInHole: a reconnect attempt into the hole must time out
	// too, so the hole sees several failures rather than one hung attempt.
	minFailuresInHole int
	// timeoutNamed: an error during the hole must say it was a timeout.
	timeoutNamed bool
	// prepare runs before the daemon starts and returns a note for the report.
	prepare func(t *testing.T, r *rig) string
	// serverLog returns the server's log from now on, for the report.
	serverLog func(r *rig) func() string
}

// Mid-load the proxy's connections are cut; later the path is blackholed
// for longer than the daemon should take to notice, then healed. The daemon
// must notice each time (a dead connection, then a silent one), reconnect,
// and lose nothing.
func TestNetworkCutAndBlackholeToSource(t *testing.T) {
	for _, tc := range []netCase{
		{
			// go-mysql's read timeout catches the silent binlog connection.
			kind: mariadb, seed: 24, liveness: 3 * time.Second,
			hole: 12 * time.Second, noticeBound: 3*time.Second + 5*time.Second,
			minFailuresInHole: 2, timeoutNamed: true,
		},
		{
			// The daemon writes a standby status update every status_interval
			// and emits a heartbeat message into the WAL every heartbeat, which
			// the server decodes and streams back, so a healthy replication
			// connection never stays silent for more than about a heartbeat;
			// a receive deadline of a few heartbeats would catch a dead path.
			// The server drops a walsender whose client sent no status for
			// wal_sender_timeout (5s on the test's database, so that the slot
			// is free again soon for the reconnect), but in a blackhole its FIN
			// never reaches the daemon either. The bound is generous: 10
			// heartbeats without a byte from the server, or twice the server's
			// own wal_sender_timeout.
			kind: postgres, seed: 32, liveness: 200 * time.Millisecond,
			hole: 15 * time.Second, noticeBound: 10 * heartbeat,
			prepare: func(t *testing.T, r *rig) string {
				testenv.Exec(t, r.db, fmt.Sprintf("ALTER DATABASE %s SET wal_sender_timeout = '5000ms'", r.Database))
				return "wal_sender_timeout " + walSenderTimeoutOf(t, r.pg) + " on the test database"
			},
			serverLog: func(r *rig) func() string {
				from := pgLogSize()
				return func() string {
					return grepLines(pgLogSince(from), "replication", "walsender", "timeout", r.pg.slot())
				}
			},
		},
	} {
		t.Run(tc.kind.name, func(t *testing.T) { runNetworkCut(t, tc) })
	}
}

func runNetworkCut(t *testing.T, tc netCase) {
	r := tc.kind.rig(t)
	var note string
	if tc.prepare != nil {
		note = tc.prepare(t, r)
	}
	proxy := testenv.StartProxy(t, r.kind.addr())
	cfg := r.writeConfigWith(t, "", r.source(proxy.Addr(), tc.liveness))
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	admin := "http://" + d.adminAddr(t)
	failures := d.watchFailures(t)

	w := r.workload(2000, tc.seed)
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 2000)

	// Cut: the connections die at once.
	failed := d.restarts(t)
	cut := w.progress.Load()
	cutAt := time.Now()
	proxy.Cut()
	testenv.Eventually(t, 30*time.Second, "the daemon to notice the cut connection", func() bool {
		return d.restarts(t) > failed
	})
	cutNoticed := time.Since(cutAt)
	afterCut := waitCaughtUp(t, r.c, cut, time.Minute)
	cutFailures := d.restarts(t) - failed
	waitProgress(t, w, 2000)

	// Blackhole: the connections stay open and go silent.
	failed = d.restarts(t)
	logOffset := len(d.logs.String())
	var serverLog func() string
	if tc.serverLog != nil {
		serverLog = tc.serverLog(r)
	}
	holed := time.Now()
	proxy.Blackhole(true)
	var stacks string
	for time.Since(holed) < tc.hole {
		if stacks == "" && failures.firstAfter(holed) == 0 && time.Since(holed) > tc.noticeBound {
			// Where the reader waits, for the report.
			_, body := httpGet(t, admin+"/debug/pprof/goroutine?debug=2")
			stacks = goroutinesWith(body, r.kind.pkg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	failuresInHole := d.restarts(t) - failed
	_, statusInHole := httpGet(t, admin+"/status")
	restored := w.progress.Load()
	restoredAt := time.Now()
	proxy.Restore()
	afterRestore := waitCaughtUp(t, r.c, restored, 2*time.Minute)
	failuresAfterRestore := d.restarts(t) - failed - failuresInHole
	noticed := failures.firstAfter(holed)
	var holeErrors []string
	for _, f := range failures.since(holed) {
		if f.at.Before(restoredAt) {
			holeErrors = append(holeErrors, f.err)
		}
	}
	holeLog := d.logs.String()[logOffset:]
	waitProgress(t, w, 2000)
	mustStop(t, stopWriter)

	dups := waitDelivered(t, r.c, w, 5*time.Minute)
	checkFinalState(t, r.db, w)
	t.Logf("cut: noticed after %s, %d pipeline failures, caught up %s after; "+
		"blackhole of %s: first failure after %s, %d failures during the hole, %d after restore; caught up %s after restore; "+
		"%d changes delivered; %d duplicates",
		cutNoticed.Round(time.Millisecond), cutFailures, afterCut.Round(time.Millisecond),
		tc.hole, durationOrNever(noticed), failuresInHole, failuresAfterRestore, afterRestore.Round(time.Millisecond),
		w.changes, dups)
	t.Logf("daemon warnings and errors from the blackhole on:\n%s", grepLines(holeLog, "level=WARN", "level=ERROR"))
	if serverLog != nil {
		t.Logf("%s log from the blackhole on (%s):\n%s", r.kind.name, note, serverLog())
	}
	if noticed == 0 || noticed > tc.noticeBound {
		t.Errorf("the daemon did not notice the blackholed %s connection within %s (heartbeat %s, liveness %s): "+
			"first pipeline failure after %s of a %s hole, %d failures in it; the dead connection failed only once the path healed (%d failures, the first %s after restore)\n"+
			"/status %s into the hole: %s\ngoroutines of %s %s into the hole:\n%s",
			r.kind.name, tc.noticeBound, heartbeat, tc.liveness, durationOrNever(noticed), tc.hole, failuresInHole,
			failuresAfterRestore, durationOrNever(failures.firstAfter(restoredAt)), tc.hole, statusInHole, r.kind.pkg, tc.noticeBound, stacks)
	}
	if tc.timeoutNamed && !anyContains(holeErrors, "timeout") {
		t.Errorf("no error /status showed during the blackhole names a timeout: %q", holeErrors)
	}
	if int(failuresInHole) < tc.minFailuresInHole {
		t.Errorf("only %d pipeline failures during a %s blackhole: a reconnect attempt hung instead of timing out (liveness %s)",
			failuresInHole, tc.hole, tc.liveness)
	}
	d.stop(t)
}

func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
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
