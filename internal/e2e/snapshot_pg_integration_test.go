package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

var (
	streamingFrom = regexp.MustCompile(`msg=streaming source=\S+ from=("(?:[^"\\]|\\.)*"|\S+)`)
	resumeLogged  = regexp.MustCompile(`msg="snapshot of table started".* table=public\.big .*resume_after_chunk=true`)
)

// The PostgreSQL initial snapshot: 200,000 rows of public.big and 50,000
// of public.side read two at a time (parallel 2) while a writer keeps
// changing both, the daemon SIGKILLed mid-snapshot and restarted. The
// restart resumes each table at its last checkpointed chunk, re-reading
// neither from its first key, and the topics' final state equals the
// tables exactly.
func TestPostgresInitialSnapshotUnderWritesSurvivesSIGKILL(t *testing.T) {
	const bigRows, sideRows = 200000, 50000
	tables := []string{"big", "side"}
	s, c := preparePGTables(t, tables, pgSnapshotTables(tables, []int{bigRows, sideRows})...)
	// The rate limit spreads the snapshot over about 10 s, so the writer
	// changes rows throughout it.
	cfg := s.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+
		"    snapshot: {mode: initial, chunk_size: 1000, parallel: 2, rows_per_second: 25000}\n")
	w := startPGWriter(t, s.db, 21, tables, []int{bigRows + 20000, sideRows + 5000}, 0)

	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	var killedBig, killedSide int64
	testenv.Eventually(t, 3*time.Minute, "the snapshot of public.big to checkpoint 20,000 rows", func() bool {
		w.check(t)
		states := pgSnapshotStates(t, d.logs.String())
		if len(states) == 0 {
			return false
		}
		last := states[len(states)-1]
		killedBig, killedSide = intCursor(last, "public.big"), intCursor(last, "public.side")
		return killedBig >= 20000
	})
	d.kill9(t)
	before := pgSnapshotStates(t, d.logs.String())
	if last := before[len(before)-1]; !last.Has("public.big") {
		t.Fatalf("the snapshot of public.big finished before the kill (last checkpoint: %v); the test needs a mid-snapshot kill", last)
	}
	parallel := false
	for _, st := range before {
		parallel = parallel || (intCursor(st, "public.big") > 0 && intCursor(st, "public.side") > 0)
	}
	if !parallel {
		t.Errorf("no checkpoint before the kill had both tables part-read: snapshot.parallel 2 did not read them at once")
	}
	// Events past these offsets come from the restarted daemon.
	ends := testenv.NewTopic(s.pgTopic("big")).Ends(t)

	restarted := time.Now()
	d = startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	var m []string
	testenv.Eventually(t, 10*time.Second, "the restarted daemon to log where it resumed", func() bool {
		m = streamingFrom.FindStringSubmatch(completeLines(d.logs.String()))
		return m != nil
	})
	_, from, err := pgsource.ParsePosition(unquote(m[1]))
	if err != nil || !from.Has("public.big") {
		t.Fatalf("restart resumed from %q (%v), want a position inside the snapshot of public.big", m[1], err)
	}
	resumedBig, resumedSide := intCursor(from, "public.big"), intCursor(from, "public.side")
	if resumedBig < killedBig {
		t.Fatalf("restart resumed public.big after key %d, before its last checkpointed chunk (%d)", resumedBig, killedBig)
	}
	if killedSide > 0 && from.Has("public.side") && resumedSide < killedSide {
		t.Fatalf("restart resumed public.side after key %d, before its last checkpointed chunk (%d)", resumedSide, killedSide)
	}

	testenv.Eventually(t, 5*time.Minute, "the resumed snapshot to finish", func() bool {
		w.check(t)
		return pgSnapshotFinished(pgSnapshotStates(t, d.logs.String()), "public.big")
	})
	resumedTook := time.Since(restarted)
	if !resumeLogged.MatchString(d.logs.String()) {
		t.Errorf("the restarted daemon did not log resuming public.big after a chunk")
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	// Exactness: the state rebuilt from the topics equals the tables, by
	// this test's own reading and by `tributary verify`.
	waitTopicState(t, s.db, c, 3*time.Minute, tables...)
	var out string
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences", func() bool {
		out, err = runCLI(t, "verify", "-c", cfg, "--source", s.Source, "--quiet")
		return err == nil && strings.Contains(out, "2 tables checked, no differences")
	})

	// What the restart re-read of public.big (every event is in now: the
	// last event of every key was): only keys after its cursor.
	evs, _ := c.snapshot()
	var reread, firstKey int64
	for _, ev := range evs {
		if tableOf(ev) != "big" || ev.Op != "r" || ev.offset < ends[ev.partition] {
			continue
		}
		k := intKey(t, ev)
		if reread++; reread == 1 || k < firstKey {
			firstKey = k
		}
	}
	t.Logf("killed with public.big checkpointed after key %d (public.side after %d); resumed after %d (%d); "+
		"%d rows of public.big read after the restart, the lowest key %d; restart to snapshot end %s; %d writes ran",
		killedBig, killedSide, resumedBig, resumedSide, reread, firstKey, resumedTook.Round(time.Millisecond), w.writes.Load())
	if reread == 0 {
		t.Fatal("the restarted daemon delivered no snapshot row of public.big")
	}
	if firstKey <= resumedBig {
		t.Errorf("after the restart a snapshot row of public.big with key %d arrived, at or before the resume cursor %d", firstKey, resumedBig)
	}
	if reread >= bigRows {
		t.Errorf("the restart re-read %d rows of public.big, want fewer than its %d", reread, bigRows)
	}
	d.stop(t)
}

// tsEvent is the part of an event that tells when the daemon built it.
type tsEvent struct {
	Op     string `json:"op"`
	Source struct {
		Table string `json:"table"`
	} `json:"source"`
	TsMs int64 `json:"ts_ms"`
}

// An on-demand snapshot of public.t1 (20,000 rows older than the slot, so
// in no topic yet) requested through `tributary snapshot` while a writer
// changes t1 and t2: t2's events keep flowing during the snapshot, and
// afterwards the state rebuilt from the topics equals the tables exactly.
func TestPostgresOnDemandSnapshotWhileStreaming(t *testing.T) {
	const rows = 20000
	tables := []string{"t1", "t2"}
	s, c := preparePGTables(t, tables, pgSnapshotTables(tables, []int{rows, 0})...)
	// A rate limit stretches the snapshot over a few seconds, so the writer
	// and the stream have time to interleave with it.
	cfg := s.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+
		"    snapshot: {mode: never, chunk_size: 500, rows_per_second: 4000}\n")

	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	addr := d.adminAddr(t)
	// t2 (keys 1–500) gets as many writes as t1.
	w := startPGWriter(t, s.db, 23, tables, []int{rows + 2000, 500}, time.Millisecond)

	// Streaming works before the request.
	testenv.Eventually(t, 60*time.Second, "t2 events to arrive", func() bool {
		w.check(t)
		evs, _ := c.snapshot()
		return countTable(evs, "t2", "") > 0
	})

	out, err := runCLI(t, "snapshot", "-c", cfg, "--addr", addr, "--source", s.Source, "--table", "public.t1")
	if err != nil || !strings.Contains(out, "queued on source "+s.Source+" by the daemon") {
		t.Fatalf("tributary snapshot: %v\n%s", err, out)
	}
	t.Logf("tributary snapshot said:\n%s", out)

	testenv.Eventually(t, 3*time.Minute, "the on-demand snapshot to finish", func() bool {
		w.check(t)
		return pgSnapshotFinished(pgSnapshotStates(t, d.logs.String()), "public.t1")
	})
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	// Exactness: the state rebuilt from the topics equals the tables, old
	// rows of t1 included.
	waitTopicState(t, s.db, c, 3*time.Minute, tables...)
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences", func() bool {
		out, err = runCLI(t, "verify", "-c", cfg, "--source", s.Source, "--quiet")
		return err == nil && strings.Contains(out, "2 tables checked, no differences")
	})

	// Other tables kept streaming: t2 events were built by the daemon (ts_ms),
	// and arrived, between the first and the last snapshot row of t1.
	var first, last, reads int64
	var built []int64 // ts_ms of t2's events
	for _, v := range c.raw() {
		var ev tsEvent
		if err := json.Unmarshal(v, &ev); err != nil {
			t.Fatalf("decode event: %v", err)
		}
		switch {
		case ev.Source.Table == "t1" && ev.Op == "r":
			if reads++; reads == 1 || ev.TsMs < first {
				first = ev.TsMs
			}
			last = max(last, ev.TsMs)
		case ev.Source.Table == "t2":
			built = append(built, ev.TsMs)
		}
	}
	if reads == 0 {
		t.Fatal("no snapshot rows of t1 arrived")
	}
	during := 0
	for _, ts := range built {
		if ts > first && ts < last {
			during++
		}
	}
	evs, _ := c.snapshot()
	firstArrived, lastArrived := -1, -1
	for i, ev := range evs {
		if tableOf(ev) == "t1" && ev.Op == "r" {
			if firstArrived < 0 {
				firstArrived = i
			}
			lastArrived = i
		}
	}
	arrived := countTable(evs[firstArrived:lastArrived+1], "t2", "")
	t.Logf("%d writes ran; %d snapshot rows of t1 built over %s; meanwhile %d t2 events were built and %d arrived",
		w.writes.Load(), reads, time.Duration(last-first)*time.Millisecond, during, arrived)
	if during == 0 || arrived == 0 {
		t.Error("t2's events stopped while t1's snapshot was delivered: streaming paused")
	}
	if reads < rows/2 {
		t.Errorf("only %d snapshot rows of t1 arrived, want most of %d", reads, rows)
	}
	if st := statusBody(t, addr); !strings.Contains(st, `"table": "public.t1"`) {
		t.Errorf("/status shows no snapshot progress of public.t1:\n%s", st)
	}
	d.stop(t)
}
