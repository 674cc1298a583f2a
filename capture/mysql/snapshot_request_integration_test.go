package mysql

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// RequestSnapshot refuses tables a snapshot could not read.
func TestRequestSnapshotRefuses(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE nokey (a INT)", "CREATE TABLE ok (id INT PRIMARY KEY)")
	s := testSource(t, name, func(c *Config) { c.Exclude = []string{name + ".hidden"} })
	for _, tc := range []struct{ table, want string }{
		{"nodot", "want db.table"},
		{"elsewhere.t", "is not captured"},
		{name + ".hidden", "is not captured"},
		{name + ".missing", "does not exist"},
		{name + ".nokey", "has no primary key"},
	} {
		err := s.RequestSnapshot([]string{name + ".ok", tc.table})
		if !errors.Is(err, ErrSnapshotRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.table, err, tc.want)
		}
	}
	if s.takeRequested() != nil {
		t.Error("a refused request was queued")
	}
	keyed := testSource(t, name, func(c *Config) { c.KeyColumns = map[string][]string{name + ".nokey": {"a"}} })
	if err := keyed.RequestSnapshot([]string{name + ".nokey"}); err != nil {
		t.Errorf("key_columns table: %v", err)
	}
}

// A plain stream takes an on-demand request, switches to snapshot mode and
// re-sends the table while a writer changes it; a second request appends a
// table. The rebuilt state equals the tables, old rows included.
func TestRequestSnapshotWhileStreaming(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	const rows = 3000
	fillBig(t, db, rows)
	testenv.Exec(t, db, "CREATE TABLE small (code VARCHAR(10) NOT NULL PRIMARY KEY, n INT)", "INSERT INTO small VALUES ('a', 1), ('b', 2)")
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = SnapshotConfig{ChunkSize: 500, RowsPerSecond: 1000} // ~2s: the second request comes while it runs
	})
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	stop := writer(t, name, rows)
	time.Sleep(500 * time.Millisecond) // the plain loop runs

	if err := s.RequestSnapshot([]string{name + ".big"}); err != nil {
		t.Fatal(err)
	}
	var id string
	testenv.Eventually(t, 30*time.Second, "a commit carrying the request", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		_, commits, _, _ := rec.snapshot()
		for _, c := range commits {
			if sn := snapshotOf(t, c.Snapshot); sn != nil {
				id = sn.ID
				return true
			}
		}
		return false
	})
	if err := s.RequestSnapshot([]string{name + ".small", name + ".big"}); err != nil {
		t.Fatal(err)
	}
	var sawSmallPending bool
	testenv.Eventually(t, 60*time.Second, "the snapshot to finish", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		_, commits, _, _ := rec.snapshot()
		started := false
		for _, c := range commits {
			sn := snapshotOf(t, c.Snapshot)
			if sn != nil {
				started = true
				if sn.ID != id {
					t.Fatalf("snapshot id changed from %q to %q while running", id, sn.ID)
				}
				sawSmallPending = sawSmallPending || sn.Has(name+".small")
			} else if started {
				return true
			}
		}
		return false
	})
	writes := stop()
	caughtUp(t, rec, streamErr, db)
	if !sawSmallPending {
		t.Error("no commit carried the appended table")
	}
	if !strings.Contains(id, "~") {
		t.Errorf("snapshot id %q is not an on-demand id", id)
	}
	changes, _, _, _ := rec.snapshot()
	reads := 0
	for _, c := range changes {
		if c.Op == capture.OpRead {
			reads++
			if !strings.HasSuffix(c.EventPosition, "@"+id) {
				t.Fatalf("snapshot row event position %q lacks the id %q", c.EventPosition, id)
			}
		}
	}
	t.Logf("%d writer transactions, %d changes, %d snapshot rows", writes, len(changes), reads)
	compareTable(t, s, name, "big", rebuild(t, changes, "big"))
	compareTable(t, s, name, "small", rebuild(t, changes, "small"))
	if p := s.SnapshotProgress(); len(p) != 2 || !p[0].Done || !p[1].Done {
		t.Errorf("progress %+v", p)
	}
}
