package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Three tables read two at a time while a writer changes all three: two
// readers run at once and never more, each table's rows come in key order
// with their usual event ids, and the state rebuilt per table equals the
// table exactly.
func TestSnapshotParallelTables(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	const rows = 6000
	tables := []string{"t1", "t2", "t3"}
	for _, tbl := range tables {
		fillTable(t, db, tbl, rows)
	}
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 500, RowsPerSecond: 6000, Parallel: 2}
	})
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stop := writerOn(t, name, tables, rows)
	rec, streamErr := startStream(t, s, from)
	mostRunning := 0 // tables started and not done at the same time
	testenv.Eventually(t, 90*time.Second, "snapshot to finish", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		running := 0
		for _, p := range s.SnapshotProgress() {
			if !p.Done {
				running++
			}
		}
		mostRunning = max(mostRunning, running)
		_, commits, _, _ := rec.snapshot()
		return len(commits) > 0 && snapshotOf(t, commits[len(commits)-1].Snapshot) == nil
	})
	writes := stop()
	caughtUp(t, rec, streamErr, db)

	changes, commits, _, _ := rec.snapshot()
	var id string
	bothMidRead := 0 // commits with two tables past their first chunk
	for _, c := range commits {
		sn := snapshotOf(t, c.Snapshot)
		if sn == nil {
			continue
		}
		id = sn.ID
		if len(sn.Active) > 2 {
			t.Fatalf("commit %s: %d tables read at once, want at most 2", c.Position, len(sn.Active))
		}
		if len(sn.Active) == 2 && sn.Active[0].After != nil && sn.Active[1].After != nil {
			bothMidRead++
		}
	}
	reads := map[string]int{}
	lastKey := map[string]int64{}
	for _, c := range changes {
		if c.Op != capture.OpRead {
			continue
		}
		reads[c.Table.Name]++
		if !strings.HasPrefix(c.EventPosition, "snapshot:"+name+"."+c.Table.Name+":") || !strings.HasSuffix(c.EventPosition, "@"+id) {
			t.Fatalf("snapshot row event position %q", c.EventPosition)
		}
		k := c.After[0].(int64)
		if k <= lastKey[c.Table.Name] {
			t.Fatalf("%s: snapshot row %d after %d", c.Table.Name, k, lastKey[c.Table.Name])
		}
		lastKey[c.Table.Name] = k
	}
	t.Logf("%d writer transactions, %d changes, snapshot rows %v, %d commits with two tables mid-read, at most %d tables running",
		writes, len(changes), reads, bothMidRead, mostRunning)
	if bothMidRead == 0 || mostRunning != 2 {
		t.Errorf("the readers did not overlap: %d commits with two tables mid-read, at most %d tables running at once", bothMidRead, mostRunning)
	}
	if writes < 50 {
		t.Errorf("too few writes: %d", writes)
	}
	for _, tbl := range tables {
		if reads[tbl] < rows/2 {
			t.Errorf("%s: %d snapshot rows", tbl, reads[tbl])
		}
		compareTable(t, s, name, tbl, rebuild(t, changes, tbl))
	}
	if p := s.SnapshotProgress(); len(p) != 3 || !p[0].Done || !p[1].Done || !p[2].Done {
		t.Errorf("progress %+v", p)
	}
}
