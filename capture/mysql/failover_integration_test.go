package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// failoverSetup takes the failover pair, makes database name with table t
// on the primary and a source reading it with the replica as failover
// address.
func failoverSetup(t *testing.T, mod func(*Config)) (*testenv.MariaDBFailoverPair, string, *Source) {
	t.Helper()
	pair := testenv.TakeMariaDBFailoverPair(t)
	name := testenv.UniqueName(t, "fo")
	testenv.Exec(t, pair.Open(t, pair.PrimaryAddr, ""), "CREATE DATABASE `"+name+"`",
		"CREATE TABLE `"+name+"`.t (id INT PRIMARY KEY, v INT NOT NULL)")
	s, err := New("fo", func() Config {
		c := Config{
			Addr: pair.PrimaryAddr, FailoverAddrs: []string{pair.ReplicaAddr},
			User: testenv.MySQLCDCUser, Password: testenv.MySQLCDCPassword,
			ServerID: testenv.ServerID(), Include: []string{name + ".*"},
			Heartbeat: 500 * time.Millisecond, ReadTimeout: 3 * time.Second,
		}
		if mod != nil {
			mod(&c)
		}
		return c
	}(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return pair, name, s
}

// insertTx commits one transaction of n rows from id on (v = id).
func insertTx(t *testing.T, pair *testenv.MariaDBFailoverPair, addr, db string, from, n int) {
	t.Helper()
	var vals []string
	for i := from; i < from+n; i++ {
		vals = append(vals, fmt.Sprintf("(%d, %d)", i, i))
	}
	testenv.Exec(t, pair.Open(t, addr, db), "INSERT INTO t VALUES "+strings.Join(vals, ","))
}

// commitAfter is the first Commit whose position carries gtid.
func commitWith(t *testing.T, rec *recorder, gtid string) capture.Commit {
	t.Helper()
	_, commits, _, _ := rec.snapshot()
	for _, c := range commits {
		if p := positionOf(t, c.Position); strings.Contains(p.GTIDSet, gtid) {
			return c
		}
	}
	t.Fatalf("no commit at GTID %s among %d", gtid, len(commits))
	return capture.Commit{}
}

// TestFailoverResumesByGTIDOnPromotedReplica: a source reads the primary,
// the primary is killed and its caught-up replica promoted; resumed from a
// checkpoint some transactions back, the source finds the replica, notices
// the other server, resumes by GTID and re-reads exactly the transactions
// after the checkpoint, with the same event ids, then the promoted
// server's own writes.
func TestFailoverResumesByGTIDOnPromotedReplica(t *testing.T) {
	pair, name, s := failoverSetup(t, nil)
	rec, streamErr := startStream(t, s, capture.Resume{})
	testenv.Eventually(t, waitFor, "the stream to start", func() bool {
		_, commits, _, _ := rec.snapshot()
		return len(commits) > 0 || streamErr() != nil
	})
	for i := 0; i < 4; i++ {
		insertTx(t, pair, pair.PrimaryAddr, name, 1+i*3, 3) // GTIDs 0-11-3 .. 0-11-6
	}
	first := waitChanges(t, rec, streamErr, "t", 12)
	checkpoint := commitWith(t, rec, "0-11-4")
	if p := positionOf(t, checkpoint.Position); p.Server.ServerID != 11 || p.Server.Domain != "0" || p.File == "" {
		t.Fatalf("checkpoint %s: want the primary's identity (server_id 11, domain 0) and a file", checkpoint.Position)
	}
	pair.WaitReplicaCaughtUp(t)
	pair.KillPrimary(t)
	testenv.Eventually(t, 10*time.Second, "the stream to end when its server dies", func() bool { return streamErr() != nil })
	pair.Promote(t)
	insertTx(t, pair, pair.ReplicaAddr, name, 100, 2)

	rec2, streamErr2 := startStream(t, s, capture.Resume{Position: checkpoint.Position})
	got := waitChanges(t, rec2, streamErr2, "t", 8)
	if s.addr() != pair.ReplicaAddr {
		t.Errorf("source uses %s, want the replica %s", s.addr(), pair.ReplicaAddr)
	}
	// Transactions 0-11-5 and 0-11-6 again, then the replica's own.
	var ids, wantIDs []string
	for _, c := range first[6:] {
		wantIDs = append(wantIDs, fmt.Sprintf("%s#%d", c.EventPosition, c.RowIndex))
	}
	for _, c := range got[:6] {
		ids = append(ids, fmt.Sprintf("%s#%d", c.EventPosition, c.RowIndex))
	}
	if strings.Join(ids, " ") != strings.Join(wantIDs, " ") || wantIDs[0] != "0-11-5#0" {
		t.Errorf("re-read after the switch: ids %v, want the first read's %v (starting 0-11-5#0)", ids, wantIDs)
	}
	for i, c := range got {
		if want := []int{7, 8, 9, 10, 11, 12, 100, 101}[i]; c.After[0] != int64(want) {
			t.Errorf("change %d after the switch: id %v, want %d", i, c.After[0], want)
		}
	}
	if got[6].GTID != "0-12-7" || got[6].EventPosition != "0-12-7" {
		t.Errorf("the promoted server's first transaction: gtid %s event %s, want 0-12-7", got[6].GTID, got[6].EventPosition)
	}
	testenv.Eventually(t, waitFor, "a commit on the promoted server", func() bool {
		_, commits, _, _ := rec2.snapshot()
		if len(commits) == 0 {
			return false
		}
		p := positionOf(t, commits[len(commits)-1].Position)
		return p.Server.ServerID == 12 && p.File != "" && strings.Contains(p.GTIDSet, "0-12-7")
	})
}

// laggingReplica kills the primary after the source read a transaction
// the replica never applied, and promotes the replica: it lacks 0-11-5.
func laggingReplica(t *testing.T, mod func(*Config)) (*testenv.MariaDBFailoverPair, string, *Source, capture.Commit) {
	t.Helper()
	pair, name, s := failoverSetup(t, mod)
	rec, streamErr := startStream(t, s, capture.Resume{})
	testenv.Eventually(t, waitFor, "the stream to start", func() bool {
		_, commits, _, _ := rec.snapshot()
		return len(commits) > 0 || streamErr() != nil
	})
	insertTx(t, pair, pair.PrimaryAddr, name, 1, 2) // 0-11-3
	insertTx(t, pair, pair.PrimaryAddr, name, 3, 2) // 0-11-4
	pair.WaitReplicaCaughtUp(t)
	testenv.Exec(t, pair.Open(t, pair.ReplicaAddr, ""), "STOP SLAVE")
	testenv.Exec(t, pair.Open(t, pair.PrimaryAddr, name), "UPDATE t SET v = -1 WHERE id = 1") // 0-11-5, never on the replica
	waitChanges(t, rec, streamErr, "t", 5)
	last := commitWith(t, rec, "0-11-5")
	pair.KillPrimary(t)
	testenv.Eventually(t, 10*time.Second, "the stream to end when its server dies", func() bool { return streamErr() != nil })
	pair.Promote(t)
	return pair, name, s, last
}

// TestFailoverToLaggingReplicaStopsNamingMissingGTIDs: the promoted
// replica lacks a transaction the checkpoint has; the source stops with a
// permanent error naming it instead of skipping it.
func TestFailoverToLaggingReplicaStopsNamingMissingGTIDs(t *testing.T) {
	_, _, s, last := laggingReplica(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Stream(ctx, capture.Resume{Position: last.Position}, &recorder{})
	var pe *capture.PermanentError
	if !errors.As(err, &pe) || !errors.Is(err, ErrGTIDsMissing) {
		t.Fatalf("Stream = %v, want a permanent ErrGTIDsMissing", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "domain 0 sequence numbers 5-5 of server_id 11") || !strings.Contains(msg, "up to 0-11-4") {
		t.Errorf("error %q does not name the missing GTID 0-11-5", msg)
	}
}

// TestFailoverToLaggingReplicaResnapshotsWhenNeeded: under snapshot mode
// when_needed the same failover re-reads every table from the promoted
// server, so what the consumer ends with is that server's state.
func TestFailoverToLaggingReplicaResnapshotsWhenNeeded(t *testing.T) {
	_, _, s, last := laggingReplica(t, func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotWhenNeeded}
	})
	rec, streamErr := startStream(t, s, capture.Resume{Position: last.Position})
	got := waitChanges(t, rec, streamErr, "t", 4)
	state := map[any]any{}
	for _, c := range got {
		if !c.Snapshot || c.Op != capture.OpRead {
			t.Errorf("change %v %v: want snapshot reads only", c.Op, c.After)
		}
		state[c.After[0]] = c.After[1]
	}
	if state[int64(1)] != int64(1) || len(state) != 4 {
		t.Errorf("snapshot state %v, want ids 1-4 with id 1 unchanged (the update the replica never had)", state)
	}
}
