package e2e

// The initial snapshot under writes, SIGKILLed mid-way, for each source
// kind.

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// snapshotRun is one kind's tables, writer and daemon config for the
// initial snapshot test.
type snapshotRun struct {
	kind       *sourceKind
	cfg        string
	source     string
	big, side  string // tables as positions name them; side "" when there is none
	bigRows    int
	bigTopic   string
	writer     *rowWriter
	verifyWant string
	// c collects big's and side's topics, and tables names them for the
	// state rebuilt from the topics; nil: only `tributary verify` checks
	// the topics (200,000 rows are too many to decode for nothing).
	c      *collector
	tables []string
	db     *sql.DB // where tables are
}

// An initial snapshot of a 200,000-row table while a writer keeps changing
// it, with a SIGKILL mid-snapshot: the restart resumes at the last
// checkpointed chunk, re-reading nothing from the table's start, and the
// topic's final state equals the table exactly.
func TestInitialSnapshotUnderWritesSurvivesSIGKILL(t *testing.T) {
	for _, tc := range []struct {
		kind  sourceKind
		setup func(t *testing.T) *snapshotRun
	}{
		{mariadb, mariadbSnapshotRun},
		{postgres, postgresSnapshotRun},
	} {
		t.Run(tc.kind.name, func(t *testing.T) { runInitialSnapshot(t, tc.setup(t)) })
	}
}

// mariadbSnapshotRun: one table, read a chunk at a time as fast as it goes.
func mariadbSnapshotRun(t *testing.T) *snapshotRun {
	s := newSetup(t)
	db, _ := prepare(t, s)
	const rows = 200000
	testenv.Exec(t, db,
		fmt.Sprintf("CREATE TABLE %s.big (id INT PRIMARY KEY, v INT NOT NULL, payload VARCHAR(100))", s.Database),
		fmt.Sprintf("INSERT INTO %s.big SELECT seq, 0, CONCAT('row ', seq) FROM %s.seq_1_to_%d", s.Database, s.Database, rows))
	createTopics(t, 3, s.topic("big"))
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.big"]
    heartbeat: 1s
    snapshot: {mode: initial, chunk_size: 1000}
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database))
	// The writer changes rows all over the key range for the whole test.
	w := startRowWriter(t, rand.New(rand.NewPCG(7, 8)), 0, func(rng *rand.Rand) error {
		id := 1 + rng.IntN(rows+20000)
		var q string
		switch rng.IntN(4) {
		case 0:
			q = fmt.Sprintf("DELETE FROM %s.big WHERE id = %d", s.Database, id)
		case 1:
			q = fmt.Sprintf("INSERT INTO %s.big VALUES (%d, 1, 'inserted') ON DUPLICATE KEY UPDATE v = v + 1", s.Database, id)
		default:
			q = fmt.Sprintf("UPDATE %s.big SET v = v + 1, payload = 'updated' WHERE id = %d", s.Database, id)
		}
		_, err := db.Exec(q)
		return err
	})
	return &snapshotRun{kind: &mariadb, cfg: cfg, source: s.Source, big: s.Database + ".big", bigRows: rows,
		bigTopic: s.topic("big"), writer: w, verifyWant: "no differences"}
}

// postgresSnapshotRun: 200,000 rows of public.big and 50,000 of
// public.side read two at a time (parallel 2). The rate limit spreads the
// snapshot over about 10 s, so the writer changes rows throughout it.
func postgresSnapshotRun(t *testing.T) *snapshotRun {
	const bigRows, sideRows = 200000, 50000
	tables := []string{"big", "side"}
	s, c := preparePGTables(t, tables, pgSnapshotTables(tables, []int{bigRows, sideRows})...)
	cfg := s.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+
		"    snapshot: {mode: initial, chunk_size: 1000, parallel: 2, rows_per_second: 25000}\n")
	w := startPGWriter(t, s.db, 21, tables, []int{bigRows + 20000, sideRows + 5000}, 0)
	return &snapshotRun{kind: &postgres, cfg: cfg, source: s.Source, big: "public.big", side: "public.side", bigRows: bigRows,
		bigTopic: s.pgTopic("big"), writer: w, verifyWant: "2 tables checked, no differences",
		c: c, tables: tables, db: s.db}
}

func runInitialSnapshot(t *testing.T, run *snapshotRun) {
	d := startDaemon(t, "run", "-c", run.cfg)
	keepLog(t, d)
	var killedBig, killedSide int64
	testenv.Eventually(t, 3*time.Minute, "the snapshot of "+run.big+" to checkpoint 20,000 rows", func() bool {
		run.writer.check(t)
		st := d.checkpointedSnapshot(t, run.kind)
		killedBig, killedSide = intCursor(st, run.big), intCursor(st, run.side)
		return killedBig >= 20000
	})
	d.kill9(t)
	if killedBig >= int64(run.bigRows) {
		t.Fatalf("the snapshot finished before the kill (checkpointed key %d); the test needs a mid-snapshot kill", killedBig)
	}

	// What the store holds now is what the restart resumes from: its newest
	// checkpoint, the last one committed before the kill.
	history := checkpointHistory(t, run.cfg, run.source)
	last := history[len(history)-1]
	from := run.kind.snapshotState(t, last.Snapshot)
	if !from.Has(run.big) {
		t.Fatalf("the snapshot of %s finished before the kill (last checkpoint: %s, snapshot work %q); the test needs a mid-snapshot kill", run.big, last.Position, last.Snapshot)
	}
	if run.side != "" {
		parallel := false
		for _, cp := range history {
			st := run.kind.snapshotState(t, cp.Snapshot)
			parallel = parallel || (intCursor(st, run.big) > 0 && intCursor(st, run.side) > 0)
		}
		if !parallel {
			t.Errorf("no checkpoint before the kill had both tables part-read: snapshot.parallel 2 did not read them at once")
		}
	}
	var ends []int64
	if run.c != nil {
		ends = testenv.NewTopic(run.bigTopic).Ends(t) // events past these come from the restarted daemon
	}

	restarted := time.Now()
	d = startDaemon(t, "run", "-c", run.cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	if c, ok := from.Cursor(run.big); !ok || len(c.After) != 1 {
		t.Fatalf("restart resumed from %s, want a position inside the snapshot of %s", last.Position, run.big)
	}
	resumedBig, resumedSide := intCursor(from, run.big), intCursor(from, run.side)
	if resumedBig < killedBig {
		t.Fatalf("restart resumed %s after key %d, before its last checkpointed chunk (%d)", run.big, resumedBig, killedBig)
	}
	if killedSide > 0 && from.Has(run.side) && resumedSide < killedSide {
		t.Fatalf("restart resumed %s after key %d, before its last checkpointed chunk (%d)", run.side, resumedSide, killedSide)
	}

	done := d.watchSnapshot(run.kind, run.big, true)
	testenv.Eventually(t, 5*time.Minute, "the resumed snapshot to finish", func() bool {
		run.writer.check(t)
		return done.finished(t)
	})
	resumedTook := time.Since(restarted)
	// The source says so only in its log; the topic shows it below, where
	// the restart's rows of big all come after the resume cursor.
	resumeLogged := regexp.MustCompile(`msg="snapshot of table started".* table=` + regexp.QuoteMeta(run.big) + ` .*resume_after_chunk=true`)
	if !resumeLogged.MatchString(d.logs.String()) {
		t.Errorf("the restarted daemon did not log resuming %s after a chunk", run.big)
	}
	if err := run.writer.stop(); err != nil {
		t.Fatal(err)
	}

	// Exactness: the state rebuilt from the topics equals the tables, by
	// this test's own reading and by `tributary verify`.
	if run.c != nil {
		waitTopicState(t, run.db, run.c, 3*time.Minute, run.tables...)
	}
	var out string
	var err error
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences", func() bool {
		out, err = runCLI(t, "verify", "-c", run.cfg, "--source", run.source, "--quiet")
		return err == nil && strings.Contains(out, run.verifyWant)
	})
	t.Logf("killed with %s checkpointed after key %d (%s after %d); resumed after %d (%d); restart to snapshot end %s; %d writes ran",
		run.big, killedBig, run.side, killedSide, resumedBig, resumedSide, resumedTook.Round(time.Millisecond), run.writer.writes.Load())
	if run.c != nil {
		checkReread(t, run, ends, resumedBig)
	}
	d.stop(t)
}

// checkReread checks what the restart re-read of big (every event is in
// now: the last event of every key was): only keys after its cursor.
func checkReread(t *testing.T, run *snapshotRun, ends []int64, resumedBig int64) {
	t.Helper()
	table := baseName(run.big)
	evs, _ := run.c.snapshot()
	var reread, firstKey int64
	for _, ev := range evs {
		if tableOf(ev) != table || ev.Op != "r" || ev.offset < ends[ev.partition] {
			continue
		}
		k := intKey(t, ev)
		if reread++; reread == 1 || k < firstKey {
			firstKey = k
		}
	}
	t.Logf("%d rows of %s read after the restart, the lowest key %d", reread, run.big, firstKey)
	if reread == 0 {
		t.Fatalf("the restarted daemon delivered no snapshot row of %s", run.big)
	}
	if firstKey <= resumedBig {
		t.Errorf("after the restart a snapshot row of %s with key %d arrived, at or before the resume cursor %d", run.big, firstKey, resumedBig)
	}
	if reread >= int64(run.bigRows) {
		t.Errorf("the restart re-read %d rows of %s, want fewer than its %d", reread, run.big, run.bigRows)
	}
}
