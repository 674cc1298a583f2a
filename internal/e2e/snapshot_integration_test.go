package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// checkpointPosition matches the pipeline's checkpoint log line: the
// position and the snapshot work kept beside it (joinLogged joins them).
var checkpointPosition = regexp.MustCompile(`msg=checkpoint source=\S+ position=("(?:[^"\\]|\\.)*"|\S+) snapshot=("(?:[^"\\]|\\.)*"|\S*)`)

// joinLogged is a logged position and snapshot work in the form the
// sources' ParsePosition reads (a position with a snapshot part).
func joinLogged(m []string) string {
	pos, snap := unquote(m[1]), unquote(m[2])
	if snap == "" {
		return pos
	}
	return pos + "|snapshot=" + snap
}

func unquote(v string) string {
	if u, err := strconv.Unquote(v); err == nil {
		return u
	}
	return v
}

// snapshotProgress is the last snapshot key a daemon's log shows as
// checkpointed (0 when none), and whether a checkpoint past the snapshot
// (no snapshot part) was logged.
func snapshotProgress(t *testing.T, logs string) (lastKey int64, finished bool) {
	t.Helper()
	for _, m := range checkpointPosition.FindAllStringSubmatch(logs, -1) {
		p, err := mysqlsource.ParsePosition(joinLogged(m))
		if err != nil {
			t.Fatalf("checkpoint position %q: %v", m[1], err)
		}
		if p.Snapshot == nil {
			finished = true
			continue
		}
		for _, cur := range p.Snapshot.Active {
			if len(cur.After) == 1 {
				if k, ok := cur.After[0].(int64); ok && k > lastKey {
					lastKey = k
				}
			}
		}
	}
	return lastKey, finished
}

// An initial snapshot of a 200,000-row table while a writer keeps changing
// it, with a SIGKILL mid-snapshot: the restart resumes at the last finished
// chunk, and the topic's final state equals the table exactly.
func TestInitialSnapshotUnderWritesSurvivesSIGKILL(t *testing.T) {
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
	ctx, stopWriter := context.WithCancel(context.Background())
	var writes atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 8))
		for ctx.Err() == nil {
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
			if _, err := db.ExecContext(context.Background(), q); err != nil {
				writerDone <- err
				return
			}
			writes.Add(1)
		}
		writerDone <- nil
	}()
	defer stopWriter()

	d := startDaemon(t, "run", "-c", cfg)
	var killedAt int64
	testenv.Eventually(t, 3*time.Minute, "the snapshot to checkpoint 20,000 rows", func() bool {
		killedAt, _ = snapshotProgress(t, d.logs.String())
		return killedAt >= 20000
	})
	d.kill9(t)
	if killedAt >= rows {
		t.Fatalf("the snapshot finished before the kill (checkpointed key %d); the test needs a mid-snapshot kill", killedAt)
	}
	d = startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	m := regexp.MustCompile(`msg=streaming source=\S+ from=("(?:[^"\\]|\\.)*"|\S+) snapshot=("(?:[^"\\]|\\.)*"|\S*)`).FindStringSubmatch(d.logs.String())
	from, err := mysqlsource.ParsePosition(joinLogged(m))
	if err != nil || from.Snapshot == nil || len(from.Snapshot.Active) != 1 || len(from.Snapshot.Active[0].After) != 1 {
		t.Fatalf("restart resumed from %q (%v), want a position inside the snapshot", m[1], err)
	}
	resumedAfter := from.Snapshot.Active[0].After[0]
	if k, _ := resumedAfter.(int64); k < killedAt {
		t.Fatalf("restart resumed the snapshot after key %d, before the last checkpointed chunk (%d)", k, killedAt)
	}
	t.Logf("killed after key %d was checkpointed; resumed after key %v, not from zero", killedAt, resumedAfter)

	testenv.Eventually(t, 5*time.Minute, "the snapshot to finish", func() bool {
		_, done := snapshotProgress(t, d.logs.String())
		return done
	})
	stopWriter()
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes ran during the snapshot", writes.Load())

	// Exactness: the state rebuilt from the topic equals the table.
	var out string
	testenv.Eventually(t, 3*time.Minute, "verify to report no differences", func() bool {
		out, err = runCLI(t, "verify", "-c", s.ConfigDir+"/tributary.yaml", "--source", s.Source, "--quiet")
		return err == nil && strings.Contains(out, "no differences")
	})
	d.stop(t)
}
