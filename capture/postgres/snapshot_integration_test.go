package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// snapshotTables creates tables a and b with n rows each, and c for markers.
func snapshotTables(t *testing.T, db *sql.DB, name string, n int) {
	t.Helper()
	for _, tbl := range []string{"a", "b"} {
		testenv.Exec(t, db,
			"CREATE TABLE "+tbl+" (id int PRIMARY KEY, v int NOT NULL, s text, ts timestamptz DEFAULT now())",
			fmt.Sprintf("INSERT INTO %s (id, v, s) SELECT g, g, 'row ' || g FROM generate_series(1, %d) g", tbl, n))
	}
	testenv.Exec(t, db, "CREATE TABLE c (id serial PRIMARY KEY, note text)",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE a, b, c")
}

// writeWhile changes a and b at random (updates, deletes, inserts, key
// changes, multi-row transactions) until stop is closed.
func writeWhile(t *testing.T, db *sql.DB, n int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		next := n + 1
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tbl := []string{"a", "b"}[r.IntN(2)]
			id := 1 + r.IntN(n)
			var err error
			switch r.IntN(6) {
			case 0:
				_, err = db.Exec("DELETE FROM "+tbl+" WHERE id = $1", id)
			case 1:
				_, err = db.Exec("INSERT INTO "+tbl+" (id, v, s) VALUES ($1, $1, 'new') ON CONFLICT DO NOTHING", next)
				next++
			case 2:
				_, err = db.Exec("UPDATE "+tbl+" SET id = $1 WHERE id = $2", next+n, id)
				next++
			case 3:
				_, err = db.Exec("UPDATE "+tbl+" SET v = v + 1, s = s || 'x' WHERE id BETWEEN $1 AND $1 + 20", id)
			default:
				_, err = db.Exec("UPDATE "+tbl+" SET v = v + 1 WHERE id = $1", id)
			}
			if err != nil && !strings.Contains(err.Error(), "duplicate key") {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	return &wg
}

// waitMarker writes a marker row and waits until the stream carried it:
// everything committed before it was handed over.
func waitMarker(t *testing.T, db *sql.DB, rec *recorder, streamErr func() error) {
	t.Helper()
	note := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	testenv.Exec(t, db, "INSERT INTO c (note) VALUES ('"+note+"')")
	testenv.Eventually(t, 60*time.Second, "the marker row "+note, func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		for _, c := range rec.changesFor("c") {
			if c.After != nil && c.After[1] == note {
				return true
			}
		}
		return false
	})
}

// checkTablesExact compares the state the recorded changes build with
// every table's rows.
func checkTablesExact(t *testing.T, s *Source, rec *recorder, tables ...string) {
	t.Helper()
	r := newReader(s)
	for _, tbl := range tables {
		got := latestAfter(t, rec.changesFor(tbl))
		tb, rows := readAll(t, r, "public", tbl, 5000)
		if len(got) != len(rows) {
			t.Errorf("%s: %d rows from the stream, %d in the table", tbl, len(got), len(rows))
		}
		bad := 0
		for _, row := range rows {
			k := rowKey(t, tb, row)
			if g, ok := got[k]; !ok || !equalRow(g, row) {
				if bad++; bad <= 5 {
					t.Errorf("%s %s: stream %v, table %v", tbl, k, g, row)
				}
			}
		}
	}
}

func equalRow(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

// snapshotDone waits until the last commit handed over carries no
// snapshot work.
func snapshotDone(t *testing.T, rec *recorder, streamErr func() error) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, "the snapshot to finish", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		_, commits, _ := rec.snapshot()
		if len(commits) == 0 {
			return false
		}
		_, st, err := ParseResume(commits[len(commits)-1].ResumeAt())
		if err != nil {
			t.Fatalf("commit position: %v", err)
		}
		return st == nil && rec.countReads() > 0
	})
}

func (r *recorder) countReads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.changes {
		if c.Op == capture.OpRead {
			n++
		}
	}
	return n
}

func TestInitialSnapshotUnderWritesIsExact(t *testing.T) {
	db, name := testDB(t)
	const n = 6000
	snapshotTables(t, db, name, n)
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = snapshot.Config{Mode: snapshot.Initial, ChunkSize: 250, Parallel: 2, Tables: []string{"public.a", "public.b"}}
	})
	stopW := make(chan struct{})
	wg := writeWhile(t, openPG(t, name), n, stopW)
	rec := &recorder{}
	rec.onCommit = func(c capture.Commit) { s.Confirm(c.Position) }
	streamErr, stop := startStream(t, s, capture.Resume{}, rec)
	snapshotDone(t, rec, streamErr)
	close(stopW)
	wg.Wait()
	waitMarker(t, db, rec, streamErr)
	stop()

	checkTablesExact(t, s, rec, "a", "b")
	progress := s.SnapshotProgress()
	if len(progress) != 2 || !progress[0].Done || !progress[1].Done {
		t.Errorf("progress %+v", progress)
	}
	// Both tables were read at the same time: b's first row came before
	// a's last.
	var firstB, lastA int = -1, -1
	for i, c := range rec.changes {
		if c.Op != capture.OpRead {
			continue
		}
		if c.Table.Name == "b" && firstB < 0 {
			firstB = i
		}
		if c.Table.Name == "a" {
			lastA = i
		}
	}
	if firstB < 0 || firstB > lastA {
		t.Errorf("tables were not read in parallel: first b row at %d, last a row at %d", firstB, lastA)
	}
	for _, c := range rec.changes {
		if c.Op == capture.OpRead && (!c.Snapshot || !strings.HasPrefix(c.EventPosition, "snapshot:public.")) {
			t.Fatalf("snapshot row %+v", c)
		}
		// Events carry the LSN alone; the snapshot state is the checkpoint's.
		if _, err := pglogrepl.ParseLSN(c.Position); err != nil || len(c.Position) > 17 {
			t.Fatalf("%s event position %q: want a bare LSN (%v)", c.Op, c.Position, err)
		}
	}
	withState := 0
	for _, c := range rec.commits {
		if c.Snapshot != "" {
			withState++
		}
		if strings.Contains(c.Position, "|") {
			t.Errorf("Commit position %q: want the LSN alone, the snapshot work apart", c.Position)
		}
	}
	if withState == 0 {
		t.Errorf("no Commit carried the snapshot state")
	}
}

func TestSnapshotResumesAtLastChunk(t *testing.T) {
	db, name := testDB(t)
	const n = 3000
	snapshotTables(t, db, name, n)
	mod := func(c *Config) {
		c.Snapshot = snapshot.Config{Mode: snapshot.Initial, ChunkSize: 100, Tables: []string{"public.a"}, RowsPerSecond: 5000}
	}
	s := testSource(t, name, mod)
	rec := &recorder{}
	streamErr, stop := startStream(t, s, capture.Resume{}, rec)
	var from capture.Resume
	testenv.Eventually(t, time.Minute, "five chunks", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		_, commits, _ := rec.snapshot()
		for _, c := range commits {
			_, st, _ := ParseResume(c.ResumeAt())
			if cur, ok := st.Cursor("public.a"); ok && len(cur.After) == 1 && cur.After[0].(int64) >= 500 {
				from = c.ResumeAt()
				return true
			}
		}
		return false
	})
	stop()
	s.Close()

	s2 := testSource(t, name, func(c *Config) { mod(c); c.Slot = s.cfg.Slot })
	rec2 := &recorder{}
	streamErr2, stop2 := startStream(t, s2, from, rec2)
	snapshotDone(t, rec2, streamErr2)
	waitMarker(t, db, rec2, streamErr2)
	stop2()
	reads := 0
	for _, c := range rec2.changes {
		if c.Op == capture.OpRead {
			if id := c.After[0].(int64); reads == 0 && id <= 500 {
				t.Errorf("the resumed snapshot started at key %d, not after the 5th chunk", id)
			}
			reads++
		}
	}
	if reads == 0 || reads > n-400 {
		t.Errorf("%d rows read after the resume; want the rest after the 5th chunk", reads)
	}
	// Both runs together rebuild the table.
	all := &recorder{changes: append(append([]*capture.Change(nil), rec.changes...), rec2.changes...)}
	checkTablesExact(t, s2, all, "a")
}

func TestOnDemandSnapshotWhileStreaming(t *testing.T) {
	db, name := testDB(t)
	const n = 4000
	snapshotTables(t, db, name, n)
	s := testSource(t, name, func(c *Config) { c.Snapshot = snapshot.Config{ChunkSize: 300} })
	from, err := s.CurrentPosition(context.Background()) // creates the slot
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	streamErr, stop := startStream(t, s, from, rec)
	waitMarker(t, db, rec, streamErr) // streaming

	if err := s.RequestSnapshot([]string{"public.nope"}); err == nil {
		t.Errorf("a missing table was accepted")
	}
	stopW := make(chan struct{})
	wg := writeWhile(t, openPG(t, name), n, stopW)
	if err := s.RequestSnapshot([]string{"public.a"}); err != nil {
		t.Fatal(err)
	}
	snapshotDone(t, rec, streamErr)
	close(stopW)
	wg.Wait()
	waitMarker(t, db, rec, streamErr)
	stop()
	checkTablesExact(t, s, rec, "a")
	// b was not snapshotted, and its changes kept flowing meanwhile.
	bReads, bChanges := 0, 0
	for _, c := range rec.changesFor("b") {
		if c.Op == capture.OpRead {
			bReads++
		} else {
			bChanges++
		}
	}
	if bReads != 0 || bChanges == 0 {
		t.Errorf("table b: %d snapshot rows, %d changes", bReads, bChanges)
	}
}

// Wide rows end a chunk early: memory holds about chunk_bytes, not
// chunk_size rows.
func TestSnapshotChunkByteBudget(t *testing.T) {
	db, name := testDB(t)
	testenv.Exec(t, db,
		"CREATE TABLE wide (id int PRIMARY KEY, body text)",
		"INSERT INTO wide SELECT g, repeat(md5(g::text), 3200) FROM generate_series(1, 10) g", // 100 KB each
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE wide")
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = snapshot.Config{Mode: snapshot.Initial, ChunkSize: 1000, ChunkBytes: 250_000}
	})
	rec := &recorder{}
	streamErr, stop := startStream(t, s, capture.Resume{}, rec)
	snapshotDone(t, rec, streamErr)
	stop()
	_, _, events := rec.snapshot()
	chunks, rows := chunkSizes(events, "wide")
	if rows != 10 || !reflect.DeepEqual(chunks, []int{3, 3, 3, 1}) {
		t.Errorf("%d rows in chunks %v; want 10 rows in chunks of 3, 3, 3, 1", rows, chunks)
	}
}

// chunkSizes counts the snapshot rows of table between commits: each
// emitted chunk is followed by a commit.
func chunkSizes(events []any, table string) (chunks []int, rows int) {
	n := 0
	for _, e := range events {
		switch e := e.(type) {
		case *capture.Change:
			if e.Op == capture.OpRead && e.Table.Name == table {
				n++
				rows++
			}
		case capture.Commit:
			if n > 0 {
				chunks = append(chunks, n)
				n = 0
			}
		}
	}
	return chunks, rows
}
