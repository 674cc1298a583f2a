package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// onDemandProgress reads the daemon's checkpoint log: whether a checkpoint
// carried a snapshot part, and whether a later one had none (finished).
func onDemandProgress(t *testing.T, logs string) (started, finished bool) {
	t.Helper()
	for _, m := range checkpointPosition.FindAllStringSubmatch(logs, -1) {
		p, err := mysqlsource.ParsePosition(unquote(m[1]))
		if err != nil {
			t.Fatalf("checkpoint position %q: %v", m[1], err)
		}
		if p.Snapshot != nil {
			started, finished = true, false
		} else if started {
			finished = true
		}
	}
	return started, finished
}

// An on-demand snapshot of t1 (20,000 rows older than the daemon, so in no
// topic yet) requested through `tributary snapshot` while a writer changes
// t1 and t2: t2's events keep flowing during the snapshot, and afterwards
// the state rebuilt from t1's topic equals the table exactly.
func TestOnDemandSnapshotWhileStreaming(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	const rows = 20000
	testenv.Exec(t, db, fmt.Sprintf("INSERT INTO %s.t1 SELECT seq, 0, CONCAT('old ', seq) FROM %s.seq_1_to_%d", s.Database, s.Database, rows))
	// A rate limit stretches the snapshot over a few seconds, so the writer
	// and the stream have time to interleave with it.
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    heartbeat: 1s
    read_timeout: 5s
    snapshot: {mode: never, chunk_size: 500, rows_per_second: 4000}
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database))

	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	addr := d.adminAddr(t)

	ctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	var writes atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(11, 12))
		for ctx.Err() == nil {
			id := 1 + rng.IntN(rows+2000)
			var q string
			switch rng.IntN(6) {
			case 0:
				q = fmt.Sprintf("DELETE FROM %s.t1 WHERE id = %d", s.Database, id)
			case 1:
				q = fmt.Sprintf("INSERT INTO %s.t1 VALUES (%d, 1, 'inserted') ON DUPLICATE KEY UPDATE v = v + 1", s.Database, id)
			case 2, 3:
				q = fmt.Sprintf("UPDATE %s.t1 SET v = v + 1, payload = 'updated' WHERE id = %d", s.Database, id)
			default:
				q = fmt.Sprintf("INSERT INTO %s.t2 VALUES (%d, 1, 'n') ON DUPLICATE KEY UPDATE v = v + 1", s.Database, 1+rng.IntN(500))
			}
			if _, err := db.ExecContext(context.Background(), q); err != nil {
				writerDone <- err
				return
			}
			writes.Add(1)
			time.Sleep(time.Millisecond)
		}
		writerDone <- nil
	}()

	// Streaming works before the request.
	testenv.Eventually(t, 60*time.Second, "t2 events to arrive", func() bool {
		evs, _ := c.snapshot()
		return countTable(evs, "t2", "") > 0
	})

	out, err := runCLI(t, "snapshot", "-c", cfg, "--addr", addr, "--source", s.Source, "--table", s.Database+".t1")
	if err != nil || !strings.Contains(out, "queued on source "+s.Source+" by the daemon") {
		t.Fatalf("tributary snapshot: %v\n%s", err, out)
	}
	t.Logf("tributary snapshot said:\n%s", out)

	testenv.Eventually(t, 3*time.Minute, "the on-demand snapshot to finish", func() bool {
		_, done := onDemandProgress(t, d.logs.String())
		return done
	})
	stopWriter()
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes ran", writes.Load())

	// Exactness: the state rebuilt from t1's topic equals the table, old
	// rows included.
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences for t1", func() bool {
		out, err = runCLI(t, "verify", "-c", cfg, "--source", s.Source, "--table", s.Database+".t1", "--quiet")
		return err == nil && strings.Contains(out, "no differences")
	})

	// Other tables kept streaming: t2 events arrived between the first and
	// the last snapshot row of t1.
	evs, errs := c.snapshot()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	first, last := -1, -1
	for i, ev := range evs {
		if tableOf(ev) == "t1" && ev.Op == "r" {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		t.Fatal("no snapshot rows of t1 arrived")
	}
	during := countTable(evs[first:last+1], "t2", "")
	reads := countTable(evs, "t1", "r")
	t.Logf("%d snapshot rows of t1 arrived; %d t2 events arrived during the snapshot", reads, during)
	if during == 0 {
		t.Error("no t2 event arrived while t1's snapshot was delivered: streaming paused")
	}
	if reads < rows/2 {
		t.Errorf("only %d snapshot rows of t1 arrived, want most of %d", reads, rows)
	}
	if st := statusBody(t, addr); !strings.Contains(st, `"table": "`+s.Database+`.t1"`) {
		t.Errorf("/status shows no snapshot progress of t1:\n%s", st)
	}
	d.stop(t)
}

func tableOf(ev event) string {
	t := ev.Source.Table
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return t
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
