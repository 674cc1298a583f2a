package e2e

// An on-demand snapshot requested while the daemon streams, for each source
// kind.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// onDemandRun is one kind's tables, writer and daemon config for the
// on-demand snapshot test.
type onDemandRun struct {
	kind   *sourceKind
	cfg    string
	source string
	table  string // t1 as the source names it
	db     *sql.DB
	c      *collector // t1's and t2's topics
	writer *rowWriter
	// verify is `tributary verify`'s extra arguments and the answer wanted.
	verifyArgs []string
	verifyWant string
	// topicState: also rebuild t1 and t2 from their topics and compare.
	topicState bool
}

// An on-demand snapshot of t1 (20,000 rows older than the daemon's start,
// so in no topic yet) requested through `tributary snapshot` while a writer
// changes t1 and t2: t2's events keep flowing during the snapshot, and
// afterwards the state rebuilt from the topics equals the tables exactly.
func TestOnDemandSnapshotWhileStreaming(t *testing.T) {
	for _, tc := range []struct {
		kind  sourceKind
		setup func(t *testing.T, rows int) *onDemandRun
	}{
		{mariadb, mariadbOnDemandRun},
		{postgres, postgresOnDemandRun},
	} {
		t.Run(tc.kind.name, func(t *testing.T) { runOnDemandSnapshot(t, tc.setup, 20000) })
	}
}

// A rate limit stretches the snapshot over a few seconds, so the writer and
// the stream have time to interleave with it.
const onDemandSnapshot = "    snapshot: {mode: never, chunk_size: 500, rows_per_second: 4000}\n"

func mariadbOnDemandRun(t *testing.T, rows int) *onDemandRun {
	r := mariadb.rig(t)
	testenv.Exec(t, r.db, fmt.Sprintf("INSERT INTO %s.t1 SELECT seq, 0, CONCAT('old ', seq) FROM %s.seq_1_to_%d", r.Database, r.Database, rows))
	cfg := r.writeConfigWith(t, "", r.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second)+onDemandSnapshot)
	return &onDemandRun{kind: r.kind, cfg: cfg, source: r.Source, table: r.Database + ".t1", db: r.db, c: r.c,
		verifyArgs: []string{"--table", r.Database + ".t1"}, verifyWant: "no differences"}
}

func postgresOnDemandRun(t *testing.T, rows int) *onDemandRun {
	tables := []string{"t1", "t2"}
	s, c := preparePGTables(t, tables, pgSnapshotTables(tables, []int{rows, 0})...)
	cfg := s.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+onDemandSnapshot)
	return &onDemandRun{kind: &postgres, cfg: cfg, source: s.Source, table: "public.t1", db: s.db, c: c,
		verifyWant: "2 tables checked, no differences", topicState: true}
}

// startWriter starts the run's writer: t2 (keys 1–500) gets about as many
// writes as t1.
func (run *onDemandRun) startWriter(t *testing.T, rows int) {
	if run.kind.name == postgres.name {
		run.writer = startPGWriter(t, run.db, 23, []string{"t1", "t2"}, []int{rows + 2000, 500}, time.Millisecond)
		return
	}
	db := strings.TrimSuffix(run.table, ".t1")
	run.writer = startRowWriter(t, rand.New(rand.NewPCG(11, 12)), time.Millisecond, func(rng *rand.Rand) error {
		id := 1 + rng.IntN(rows+2000)
		var q string
		switch rng.IntN(6) {
		case 0:
			q = fmt.Sprintf("DELETE FROM %s.t1 WHERE id = %d", db, id)
		case 1:
			q = fmt.Sprintf("INSERT INTO %s.t1 VALUES (%d, 1, 'inserted') ON DUPLICATE KEY UPDATE v = v + 1", db, id)
		case 2, 3:
			q = fmt.Sprintf("UPDATE %s.t1 SET v = v + 1, payload = 'updated' WHERE id = %d", db, id)
		default:
			q = fmt.Sprintf("INSERT INTO %s.t2 VALUES (%d, 1, 'n') ON DUPLICATE KEY UPDATE v = v + 1", db, 1+rng.IntN(500))
		}
		_, err := run.db.Exec(q)
		return err
	})
}

// tsEvent is the part of an event that tells when the daemon built it.
type tsEvent struct {
	Op     string `json:"op"`
	Source struct {
		Table string `json:"table"`
	} `json:"source"`
	TsMs int64 `json:"ts_ms"`
}

func runOnDemandSnapshot(t *testing.T, setup func(t *testing.T, rows int) *onDemandRun, rows int) {
	run := setup(t, rows)
	d := startDaemon(t, "run", "-c", run.cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	addr := d.adminAddr(t)
	run.startWriter(t, rows)

	// Streaming works before the request.
	testenv.Eventually(t, 60*time.Second, "t2 events to arrive", func() bool {
		run.writer.check(t)
		evs, _ := run.c.snapshot()
		return countTable(evs, "t2", "") > 0
	})

	out, err := runCLI(t, "snapshot", "-c", run.cfg, "--addr", addr, "--source", run.source, "--table", run.table)
	if err != nil || !strings.Contains(out, "queued on source "+run.source+" by the daemon") {
		t.Fatalf("tributary snapshot: %v\n%s", err, out)
	}
	t.Logf("tributary snapshot said:\n%s", out)

	done := d.watchSnapshot(run.kind, run.table, false)
	testenv.Eventually(t, 3*time.Minute, "the on-demand snapshot to finish", func() bool {
		run.writer.check(t)
		return done.finished(t)
	})
	if err := run.writer.stop(); err != nil {
		t.Fatal(err)
	}

	// Exactness: the state rebuilt from the topics equals the tables, old
	// rows of t1 included.
	if run.topicState {
		waitTopicState(t, run.db, run.c, 3*time.Minute, "t1", "t2")
	}
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences", func() bool {
		out, err = runCLI(t, append([]string{"verify", "-c", run.cfg, "--source", run.source, "--quiet"}, run.verifyArgs...)...)
		return err == nil && strings.Contains(out, run.verifyWant)
	})

	// Other tables kept streaming: t2 events were built by the daemon
	// (ts_ms), and arrived, between the first and the last snapshot row of t1.
	var first, last, reads int64
	var built []int64 // ts_ms of t2's events
	for _, v := range run.c.raw() {
		var ev tsEvent
		if err := json.Unmarshal(v, &ev); err != nil {
			t.Fatalf("decode event: %v", err)
		}
		switch {
		case baseName(ev.Source.Table) == "t1" && ev.Op == "r":
			if reads++; reads == 1 || ev.TsMs < first {
				first = ev.TsMs
			}
			last = max(last, ev.TsMs)
		case baseName(ev.Source.Table) == "t2":
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
	evs, errs := run.c.snapshot()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
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
		run.writer.writes.Load(), reads, time.Duration(last-first)*time.Millisecond, during, arrived)
	if during == 0 || arrived == 0 {
		t.Error("t2's events stopped while t1's snapshot was delivered: streaming paused")
	}
	if reads < int64(rows)/2 {
		t.Errorf("only %d snapshot rows of t1 arrived, want most of %d", reads, rows)
	}
	if st := statusBody(t, addr); !strings.Contains(st, `"table": "`+run.table+`"`) {
		t.Errorf("/status shows no snapshot progress of %s:\n%s", run.table, st)
	}
	d.stop(t)
}

func tableOf(ev event) string { return baseName(ev.Source.Table) }

// baseName is a table name without its database or schema.
func baseName(table string) string {
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		return table[i+1:]
	}
	return table
}

// countTable counts the events of table (with op, unless "").
func countTable(evs []event, table, op string) int {
	n := 0
	for _, ev := range evs {
		if tableOf(ev) == table && (op == "" || ev.Op == op) {
			n++
		}
	}
	return n
}
