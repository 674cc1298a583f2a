package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// A transaction whose commit was streamed but is not yet visible — it
// waits for a synchronous standby — must not leave its old row in a
// snapshot chunk read meanwhile. The standby (pg_receivewal --synchronous)
// is frozen with SIGSTOP while an UPDATE commits; once the loop emitted the
// update, a snapshot of the table reads its chunk. The update is then
// neither visible to the chunk's snapshot nor in its xip (its xid is at
// xmax: it has not left the proc array), and the chunk must be read again
// rather than emit the old row after the new one.
//
// It runs on a private server: synchronous_standby_names is global and
// would make every other test's commits wait on the shared one.
func TestSnapshotChunkWithCommitWaitingForSyncStandby(t *testing.T) {
	t.Parallel()
	ps := startPrivateServer(t)
	db := ps.open(t, "postgres")
	testenv.Exec(t, db, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'old'), (2, 'other')`,
		`CREATE TABLE m (id serial PRIMARY KEY, note text)`, `CREATE PUBLICATION pub_syncrep FOR TABLE t, m`,
		`SELECT pg_create_physical_replication_slot('tributary_frozen')`)

	s, err := New("test", Config{
		Addr: ps.addr(), User: "postgres", Database: "postgres", SSLMode: "disable",
		Slot: "slot_syncrep", Publication: "pub_syncrep", Include: []string{"public.*"},
		StatusInterval: 200 * time.Millisecond, Heartbeat: 500 * time.Millisecond,
		Snapshot: snapshot.Config{ChunkSize: 100},
	}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rec := &recorder{}
	streamErr, stop := startStream(t, s, resumeAt(currentPosition(t, s)), rec)

	standby := startSyncStandby(t, ps, db)
	marker(t, db, rec, streamErr, "through the standby")

	if err := standby.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			standby.Process.Signal(syscall.SIGCONT) //nolint:errcheck // it may have gone
		}
	}
	t.Cleanup(resume) // before the standby is killed: commits must not stay blocked
	updated := make(chan error, 1)
	writer := ps.open(t, "postgres")
	go func() {
		_, err := writer.Exec(`UPDATE t SET v = 'new' WHERE id = 1`)
		updated <- err
	}()
	// The loop emits the update although its commit waits for the standby.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, what, func() bool {
			if err := streamErr(); err != nil {
				t.Fatalf("Stream: %v", err)
			}
			return cond()
		})
	}
	waitFor("the update emitted", func() bool { return rowOf(rec, capture.OpUpdate, 1) == "new" })
	if waiting(t, db, "UPDATE t%") == 0 {
		t.Fatalf("the update is not waiting for the synchronous standby")
	}

	if err := s.RequestSnapshot([]string{"public.t"}); err != nil {
		t.Fatal(err)
	}
	// The chunk was read while the update waits: its watermark commit now
	// waits behind it (and the stream decodes it all the same).
	waitFor("the chunk's watermark written", func() bool { return waiting(t, db, "%pg_logical_emit_message(true%") > 0 })
	if v := rowOf(rec, capture.OpRead, 1); v == "old" {
		t.Errorf("snapshot row 1 = %q while the update waits for the standby (after the update's %q)", v, "new")
	}

	resume()
	if err := <-updated; err != nil {
		t.Fatalf("update: %v", err)
	}
	waitFor("snapshot rows of t", func() bool { return rowOf(rec, capture.OpRead, 1) != "" && rowOf(rec, capture.OpRead, 2) != "" })
	marker(t, db, rec, streamErr, "after the snapshot")
	stop()
	var last string
	for _, c := range rec.changesFor("t") {
		if c.After != nil && fmt.Sprint(c.After[0]) == "1" {
			last = fmt.Sprint(c.After[1])
		}
	}
	if last != "new" {
		t.Errorf("row 1 ends as %q downstream, want %q: the snapshot's old row came after the update", last, "new")
	}
}

// startSyncStandby runs pg_receivewal as the server's only synchronous
// standby (a physical slot, --synchronous: it confirms every flush at once)
// and waits until the server counts it as synchronous.
func startSyncStandby(t *testing.T, ps *privateServer, db *sql.DB) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(filepath.Join(ps.bin, "pg_receivewal"), "-D", t.TempDir(), "--slot=tributary_frozen", "--synchronous", "--no-loop",
		"-d", fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=tributary_frozen", ps.port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pg_receivewal: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited
		cmd.Wait()         //nolint:errcheck // killed
	})
	testenv.Exec(t, db, `ALTER SYSTEM SET synchronous_standby_names = 'tributary_frozen'`, `SELECT pg_reload_conf()`)
	testenv.Eventually(t, 20*time.Second, "pg_receivewal to be the synchronous standby", func() bool {
		var state string
		err := db.QueryRow(`SELECT sync_state FROM pg_stat_replication WHERE application_name = 'tributary_frozen'`).Scan(&state)
		return err == nil && state == "sync"
	})
	return cmd
}

// marker commits a row into m and waits until the stream emitted it.
func marker(t *testing.T, db *sql.DB, rec *recorder, streamErr func() error, note string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `INSERT INTO m (note) VALUES ($1)`, note); err != nil {
		t.Fatalf("marker %q: %v", note, err)
	}
	testenv.Eventually(t, 20*time.Second, "the marker "+note, func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		for _, c := range rec.changesFor("m") {
			if c.After != nil && c.After[1] == note {
				return true
			}
		}
		return false
	})
}

// rowOf is the v of row id in the last change of t with op ("" if none).
func rowOf(rec *recorder, op capture.Op, id int) string {
	v := ""
	for _, c := range rec.changesFor("t") {
		if c.Op == op && c.After != nil && fmt.Sprint(c.After[0]) == fmt.Sprint(id) {
			v = fmt.Sprint(c.After[1])
		}
	}
	return v
}

// waiting counts the sessions whose commit waits for the synchronous
// standby, running a statement like pattern.
func waiting(t *testing.T, db *sql.DB, pattern string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE $1`, pattern).Scan(&n); err != nil {
		t.Fatalf("read pg_stat_activity: %v", err)
	}
	return n
}
