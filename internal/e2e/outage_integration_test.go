package e2e

// Outage scenarios that exist for one source kind only (MariaDB, the
// cheapest source to drive the load with): Kafka stopped and frozen, and
// binlogs purged past the checkpoint. The source server's restart and the
// network to it cut are in restart_integration_test.go and
// network_integration_test.go, for each kind. These stop, freeze or purge
// servers other tests use, so none of them runs in parallel, and each puts
// its server back in t.Cleanup whatever happens.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

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

// Kafka is stopped under write load, until the binlog has run several
// max_in_flight windows ahead, and then started again. While
// it is away the daemon may hold at most pipeline.max_in_flight events (and
// the sink kafka.max_in_flight messages), so its memory stays bounded however
// far the binlog runs ahead; afterwards every change arrives.
func TestKafkaOutageBoundsMemoryAndDeliversAll(t *testing.T) {
	const maxInFlight = 5000
	// What may grow over the streaming daemon's own RSS (the baseline,
	// measured before the outage: the Go runtime, go-mysql, kafka-go,
	// Badger, the console's ring): the pipeline's and the sink's in-flight
	// windows, each at most maxInFlight messages of under 1 KiB encoded
	// (the workload's rows are ~300 bytes), counted at 8 KiB each for
	// kafka-go's batch copies, compression buffers and garbage not yet
	// collected, plus 40 MiB of heap the runtime has not yet returned on a
	// loaded machine. An unbounded reader would instead buffer the whole
	// outage's binlog.
	const rssGrowth = 40*mib + 2*maxInFlight*8<<10 // ≈ 118 MiB
	const outageChanges = 4 * maxInFlight
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, fmt.Sprintf("  max_in_flight: %d", maxInFlight))
	setWriteTimeout(t, cfg, 2*time.Second) // the sink gives up, and /readyz says so, within ~7s
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
	rssBound := baseline + rssGrowth

	// The collector keeps running: its readers are recreated while the
	// broker is away and go on from where they were.
	rss := sampleRSS(t, pid)
	atStop := w.progress.Load()
	stopServer(t, "kafka")
	down := time.Now()
	ready := pollReadyz(readyz, 100*time.Millisecond)
	// The outage lasts until the binlog has run well past what the daemon
	// may hold and /readyz has said so.
	testenv.Eventually(t, time.Minute, fmt.Sprintf("%d changes written and /readyz 503 while Kafka is down", outageChanges), func() bool {
		return w.progress.Load()-atStop >= outageChanges && ready.sawNotReady.Load()
	})
	outage := time.Since(down)
	during := ready.finish()
	duringOutage := w.progress.Load() - atStop
	restarted := d.restarts(t)
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
		"%d changes written during the %s outage (%d×max_in_flight); %d pipeline restarts while Kafka was down; "+
		"Kafka took %s to start; all %d changes delivered %s after it was back; %d duplicates; collector readers recreated %d times",
		float64(baseline)/mib, float64(peak)/mib, samples, float64(rssBound)/mib,
		duringOutage, outage.Round(time.Millisecond), duringOutage/maxInFlight, restarted, startup.Round(time.Millisecond),
		w.changes, recovery.Round(time.Millisecond), dups, c.readerRestarts())
	t.Logf("/readyz during the outage: %s; 200 again %s after Kafka was back", during.summary(down), readyAgain.Round(time.Millisecond))
	if during.notReady == 0 {
		t.Errorf("/readyz never answered 503 during the %s Kafka outage (%s)", outage.Round(time.Millisecond), during.summary(down))
	}
	if during.readyAfterNotReady > 0 {
		t.Errorf("/readyz flickered to 200 %d times during the Kafka outage after its first 503: a restarted attempt reported ready before it delivered (%s)",
			during.readyAfterNotReady, during.summary(down))
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
	cfg := s.writeConfig(t, "")
	setWriteTimeout(t, cfg, 2*time.Second) // × max_attempts 3: the sink gives up ~7s into the freeze
	withPipelineSetting(t, cfg, "stall_after: 3s")
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)

	w := newWorkload(db, s.Database, 2000, 22)
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 2000)

	failedBefore := d.restarts(t)
	frozen := time.Now()
	thaw := freezeKafka(t)
	// The freeze lasts 16s under load. /readyz is sampled every 100ms: the
	// source must be found stalled (the server moves, the checkpoint does
	// not) within stall_after plus the lag measurement's 5s period and a
	// margin, and from then on never report ready until the broker is back.
	// Nor may it once /readyz said 503 for any reason (a failed attempt
	// restarting is not ready before it delivers).
	var stalledAt, firstNotReady time.Duration
	flickers, flickersAfter503 := 0, 0
	readyz := "http://" + d.adminAddr(t) + "/readyz"
	for time.Since(frozen) < 16*time.Second {
		code, _ := getStatus(readyz)
		switch {
		case stalledAt == 0 && code == 503 && d.status(t).Stalled:
			stalledAt = time.Since(frozen)
		case stalledAt > 0 && code == 200:
			flickers++
		}
		switch {
		case firstNotReady == 0 && code == 503:
			firstNotReady = time.Since(frozen)
		case firstNotReady > 0 && code == 200:
			flickersAfter503++
		}
		time.Sleep(100 * time.Millisecond)
	}
	failuresFrozen := d.restarts(t) - failedBefore
	if v, ok := d.metric(t, `tributary_source_stalled{source="`+s.Source+`"}`); !ok || (stalledAt > 0 && v != 1) {
		t.Errorf("tributary_source_stalled = %v (present %v) at the end of the freeze, want 1", v, ok)
	}
	thaw()
	if stalledAt == 0 || stalledAt > 15*time.Second {
		t.Errorf("the frozen broker's source was not reported stalled within 15s (found after %s; 0: never)", stalledAt)
	}
	if flickers > 0 {
		t.Errorf("/readyz answered 200 %d times while the broker stayed frozen after the stall was found", flickers)
	}
	if flickersAfter503 > 0 {
		t.Errorf("/readyz answered 200 %d times while the broker stayed frozen after its first 503 (%s into the freeze)", flickersAfter503, firstNotReady)
	}
	thawed := time.Now()
	// The failed attempt must end and a new one start from the checkpoint
	// soon after the broker is back, whatever was queued in kafka-go.
	restartDeadline := 60 * time.Second
	for d.restarts(t) == failedBefore {
		if time.Since(thawed) > restartDeadline {
			// When the sink failed and how often its fuse refused a produce
			// attempt are in its log only: the failed attempt has not ended,
			// so no state shows them yet.
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
	testenv.Eventually(t, 30*time.Second, "the stall to clear once events are delivered again", func() bool { return !d.status(t).Stalled })
	failures := d.restarts(t) - failedBefore
	t.Logf("stalled (readyz 503, status stalled) %s into the freeze; no 200 after that until the thaw", stalledAt.Round(100*time.Millisecond))
	t.Logf("broker frozen 16s: sink failed %s into the freeze; %d pipeline restarts during the freeze, the next %s after it continued; %d in all; "+
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
	// The daemon has exited: its output is all an operator gets, so the
	// advice is checked there.
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
