package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// An on-demand snapshot of a 20,000-row PostgreSQL table, running on its
// owner while a writer changes the table, when the owner is killed (-9):
// the survivor takes the source over and resumes the snapshot from the
// cluster checkpoint at its last finished chunk — every snapshot row it
// sends is after that chunk's key, fewer than the table — and the state
// rebuilt from the topic equals the table.
func TestClusterSnapshotResumesOnNewOwner(t *testing.T) {
	const rows = 20000
	const table = "public.big"
	cr := newClusterRig(t, 0, 0)
	s := newSetup(t)
	s.Prefix = cr.prefix
	pg, c := preparePGTablesIn(t, s, []string{"big"}, pgSnapshotTables([]string{"big"}, []int{rows})...)
	r := &rig{setup: s, db: pg.db, c: c, pg: pg, kind: &postgres}
	cr.rigs = append(cr.rigs, r)
	// The rate limit spreads the snapshot over about 5 s: long enough to
	// kill its owner after a few chunks, short enough for a lean test.
	cr.blocks = append(cr.blocks, r.source(testenv.PGAddr(), 200*time.Millisecond)+
		"    snapshot: {mode: never, chunk_size: 500, rows_per_second: 4000}\n")
	cfg1 := cr.writeConfig(t, "m1")
	m1 := startDaemon(t, "run", "-c", cfg1)
	keepLog(t, m1)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 1}) // first: sticky assignment keeps it there
	m2 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m2"))
	keepLog(t, m2)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 1, m2: 0})
	before, _ := m1.clusterState()
	probe := cr.probeSlots(t)
	writer := startPGWriter(t, pg.db, 61, []string{"big"}, []int{rows + 2000}, 2*time.Millisecond)

	out, err := runCLI(t, "snapshot", "-c", cfg1, "--addr", m1.adminAddr(t), "--source", s.Source, "--table", table)
	if err != nil || !strings.Contains(out, "queued on source "+s.Source+" by the daemon") {
		t.Fatalf("tributary snapshot: %v\n%s", err, out)
	}
	cursor := func() (int64, *snapshot.State, int) {
		rec := cr.clusterCheckpoints(t)[s.Source]
		st := checkpointSnapshot(t, rec.Snapshot)
		return intCursor(st, table), st, rec.Epoch
	}
	var killedAt int64
	testenv.Eventually(t, 60*time.Second, "the cluster checkpoint to carry a few finished chunks of "+table, func() bool {
		writer.check(t)
		killedAt, _, _ = cursor()
		return killedAt >= 1500
	})
	m1.kill9(t)
	killed := time.Now()
	resumeAt, from, _ := cursor() // what the new owner resumes from: the last record m1 wrote
	if !from.Has(table) || resumeAt >= rows {
		t.Fatalf("the snapshot of %s finished before the kill (cluster checkpoint after key %d); the test needs a mid-snapshot kill", table, resumeAt)
	}
	if resumeAt < killedAt {
		t.Fatalf("the cluster checkpoint went back from key %d to %d", killedAt, resumeAt)
	}

	waitOwned(t, clusterSession+10*time.Second, map[*daemon]int{m2: 1})
	took := time.Since(killed)
	testenv.Eventually(t, 2*time.Minute, "the resumed snapshot to finish on m2", func() bool {
		writer.check(t)
		_, st, epoch := cursor()
		return epoch > before.Owned[s.Source] && !st.Has(table)
	})
	resumeLogged := regexp.MustCompile(`msg="snapshot of table started".* table=` + regexp.QuoteMeta(table) + ` .*resume_after_chunk=true`)
	if !resumeLogged.MatchString(m2.logs.String()) {
		t.Errorf("m2 did not log resuming %s after a chunk", table)
	}
	if err := writer.stop(); err != nil {
		t.Fatal(err)
	}
	waitTopicState(t, pg.db, c, 2*time.Minute, "big")

	// What each member sent of the snapshot, told apart by the epoch header.
	evs, _ := c.snapshot()
	var byM1, byM2, lowest int64
	for _, ev := range evs {
		if ev.Op != "r" {
			continue
		}
		epoch, err := strconv.Atoi(ev.headers["tributary-epoch"])
		if err != nil {
			t.Fatalf("%s/%d@%d has no epoch header: %v", ev.topic, ev.partition, ev.offset, ev.headers)
		}
		if epoch <= before.Owned[s.Source] {
			byM1++
			continue
		}
		k := intKey(t, ev)
		if byM2++; byM2 == 1 || k < lowest {
			lowest = k
		}
	}
	t.Logf("m1 killed with the cluster checkpoint after key %d (%d snapshot rows sent); m2 streamed the source %s later and sent %d snapshot rows from key %d on; %d writes ran; %s",
		resumeAt, byM1, took.Round(100*time.Millisecond), byM2, lowest, writer.writes.Load(), probe.finish(t))
	if byM2 == 0 {
		t.Fatal("m2 sent no snapshot row")
	}
	if lowest <= resumeAt {
		t.Errorf("m2 sent a snapshot row with key %d, at or before the resume cursor %d: it did not resume at the last finished chunk", lowest, resumeAt)
	}
	if byM2 >= rows {
		t.Errorf("m2 sent %d snapshot rows, want fewer than the table's %d", byM2, rows)
	}
	m2.stop(t)
}
