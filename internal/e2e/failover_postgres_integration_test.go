package e2e

// PostgreSQL 18 failover on the destructive pair
// (testenv.TakePG18FailoverPair, never the shared servers): the daemon
// reads the primary through a failover slot, the primary is stopped in
// immediate mode and its standby promoted, and the daemon resumes from the
// standby's synchronised copy of the slot.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// pgFailoverRig is a test's database on the PostgreSQL 18 failover pair,
// its topic and the daemon's config.
type pgFailoverRig struct {
	*pgSetup
	pair *testenv.PG18FailoverPair
	c    *collector
	cfg  string
}

// newPGFailoverRig takes the pair, fresh (syncSlots false turns the
// standby's sync_replication_slots off), and creates t1 (REPLICA IDENTITY
// FULL), its publication and topic.
func newPGFailoverRig(t *testing.T, syncSlots bool) *pgFailoverRig {
	t.Helper()
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	pair := testenv.TakePG18FailoverPair(t)
	if !syncSlots {
		testenv.Exec(t, pair.Open(t, pair.StandbyAddr, "postgres"), "ALTER SYSTEM SET sync_replication_slots = off", "SELECT pg_reload_conf()")
	}
	s := &pgSetup{setup: newSetup(t)}
	testenv.Exec(t, pair.Open(t, pair.PrimaryAddr, "postgres"), "CREATE DATABASE "+s.Database)
	s.db = pair.Open(t, pair.PrimaryAddr, s.Database)
	testenv.Exec(t, s.db,
		"CREATE TABLE t1 (id int PRIMARY KEY, v bigint NOT NULL)",
		"ALTER TABLE t1 REPLICA IDENTITY FULL",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION "+s.publication()+" FOR TABLE t1")
	createTopics(t, 3, s.pgTopic("t1"))
	r := &pgFailoverRig{pgSetup: s, pair: pair, c: collect(t, 3, s.pgTopic("t1"))}
	src := s.pgSource(pair.PrimaryAddr, time.Second, 200*time.Millisecond) +
		fmt.Sprintf("    failover_addrs: [%q]\n    read_timeout: 5s\n", pair.StandbyAddr)
	r.cfg = s.writeConfigWith(t, "", src)
	return r
}

// startWriter runs the chain writer on the primary's t1.
func (r *pgFailoverRig) startWriter(t *testing.T) *chainWriter {
	return startChainWriterWith(t, r.db, 40,
		"INSERT INTO t1 VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", "DELETE FROM t1 WHERE id = $1")
}

// TestPostgresFailoverUnderLoad: a write load on the primary; once the
// standby's copy of the slot is synchronised the load goes on, the
// primary is stopped (immediate) and the standby promoted, and the writer
// moves to it. The daemon reconnects to the promoted server and resumes
// from the synced slot at its checkpoint: the state rebuilt from the topic
// equals the promoted server's table, every key's events (de-duplicated
// by id) are in commit order, and every value a committed transaction
// wrote is in the topic (commits are synchronous to the standby, so an
// acknowledged commit survives the failover).
func TestPostgresFailoverUnderLoad(t *testing.T) {
	r := newPGFailoverRig(t, true)
	pair, s, c := r.pair, r.pgSetup, r.c
	d := startDaemon(t, "run", "-c", r.cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	w := r.startWriter(t)
	w.waitCommits(t, 100)
	pair.WaitSlotSynced(t, s.slot())
	w.waitCommits(t, 20) // the load goes on: the synced copy is behind the last checkpoint

	pair.StopPrimary(t)
	stopped := time.Now()
	pair.Promote(t)
	promoted := pair.Open(t, pair.StandbyAddr, s.Database)
	w.moveTo(promoted)
	w.waitCommits(t, 100)
	if err := w.finish(); err != nil {
		t.Fatalf("writer on the promoted server: %v", err)
	}

	unique, dups := waitTopicMatches(t, c, queryState(t, promoted, "SELECT id, v FROM t1"))
	t.Logf("%d distinct events, %d duplicates dropped by id; caught up %s after the stop", unique, dups, time.Since(stopped).Round(time.Millisecond))
	evs, _ := c.snapshot()
	inTopic := map[string]bool{}
	for _, ev := range evs {
		inTopic[string(ev.After["v"])] = true
	}
	var missing []string
	for _, v := range w.ackedValues() {
		if !inTopic[fmt.Sprint(v)] {
			missing = append(missing, fmt.Sprint(v))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d committed values are not in the topic, e.g. v=%s", len(missing), strings.Join(missing[:min(10, len(missing))], ", "))
	}
	if out := d.logs.String(); !strings.Contains(out, "connected to another server of the source") || !strings.Contains(out, pair.StandbyAddr) {
		t.Errorf("the daemon's output does not say it moved to %s:\n%s", pair.StandbyAddr, tail(out, 2000))
	}
	if st := d.status(t); st.State != "streaming" {
		t.Errorf("source state %s (%s), want streaming", st.State, st.LastError)
	}
	d.stop(t)
}

// TestPostgresFailoverWithoutSlotSyncStops: the same failover, but the
// standby ran with sync_replication_slots off, so the promoted server has
// no copy of the slot. The daemon stops the source with ErrSlotGone naming
// the slot and the setting (a new slot would skip what happened since the
// checkpoint), and the checkpoint stays where it was.
func TestPostgresFailoverWithoutSlotSyncStops(t *testing.T) {
	r := newPGFailoverRig(t, false)
	d := startDaemon(t, "run", "-c", r.cfg)
	d.waitStreaming(t)
	w := r.startWriter(t)
	start := d.status(t).CheckpointPosition
	w.waitCommits(t, 50)
	// The failover comes after the daemon has delivered and checkpointed
	// some of the load: what it must not do is go on past it silently.
	var before string
	testenv.Eventually(t, 30*time.Second, "events in the topic and a checkpoint past the start", func() bool {
		evs, _ := r.c.snapshot()
		before = d.status(t).CheckpointPosition
		return len(evs) >= 20 && before != start
	})
	r.pair.StopPrimary(t)
	r.pair.Promote(t)
	w.moveTo(r.pair.Open(t, r.pair.StandbyAddr, r.Database))
	w.finish() //nolint:errcheck // only the daemon's end matters here

	select {
	case <-d.waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not stop its source on the promoted server without the slot; /status: %+v", d.status(t))
	}
	if d.err == nil {
		t.Error("the daemon exited with status 0")
	}
	out := d.logs.String()
	for _, want := range []string{"replication slot is gone", r.slot(), "sync_replication_slots = on", r.pair.StandbyAddr} {
		if !strings.Contains(out, want) {
			t.Errorf("the daemon's output does not name %q:\n%s", want, tail(out, 2000))
		}
	}
	if after := committedPosition(t, r.cfg, r.Source); before == "" || after == "" {
		t.Errorf("checkpoint before the failover %q, after %q: want one kept", before, after)
	} else {
		t.Logf("checkpoint kept at %s (before the failover: %s)", after, before)
	}
	var exists bool
	if err := r.pair.Open(t, r.pair.StandbyAddr, "postgres").QueryRow("SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)", r.slot()).Scan(&exists); err != nil || exists {
		t.Errorf("slot %s on the promoted server: exists %v (%v); want none created", r.slot(), exists, err)
	}
}
