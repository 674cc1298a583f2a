package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

const snapshotRows = 20000

// fillBig creates table big with n rows (ids 1..n).
func fillBig(t *testing.T, db *sql.DB, n int) { fillTable(t, db, "big", n) }

// fillTable creates table (big's columns) with n rows (ids 1..n).
func fillTable(t *testing.T, db *sql.DB, table string, n int) {
	t.Helper()
	testenv.Exec(t, db,
		"CREATE TABLE "+table+" (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, s VARCHAR(40), d DECIMAL(10,2), ts TIMESTAMP(3) NULL)",
		fmt.Sprintf("INSERT INTO %s SELECT seq, seq, CONCAT('row ', seq), seq / 100, FROM_UNIXTIME(1700000000 + seq) FROM seq_1_to_%d", table, n))
}

// writer changes big until stop is called: updates, deletes, inserts of new
// and of deleted ids, in small transactions. It returns how many it made.
func writer(t *testing.T, dbName string, maxID int) (stop func() int64) {
	t.Helper()
	return writerOn(t, dbName, []string{"big"}, maxID)
}

// writerOn is writer for tables filled by fillTable; each statement picks
// one of them.
func writerOn(t *testing.T, dbName string, tables []string, maxID int) (stop func() int64) {
	t.Helper()
	db, err := sql.Open("mysql", testenv.MySQLDSN(dbName))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var nextID atomic.Int64
	nextID.Store(int64(maxID))
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go write(ctx, &wg, db, tables, rand.New(rand.NewSource(time.Now().UnixNano()+int64(w))), maxID, &nextID, &n)
	}
	return func() int64 {
		cancel()
		wg.Wait()
		db.Close()
		return n.Load()
	}
}

func write(ctx context.Context, wg *sync.WaitGroup, db *sql.DB, tables []string, rnd *rand.Rand, maxID int, nextID, n *atomic.Int64) {
	{
		defer wg.Done()
		for ctx.Err() == nil {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				continue
			}
			for i := 0; i < 1+rnd.Intn(4); i++ {
				id := 1 + rnd.Intn(maxID)
				tbl := tables[rnd.Intn(len(tables))]
				var q string
				var args []any
				switch r := rnd.Intn(10); {
				case r < 6:
					q, args = "UPDATE "+tbl+" SET v = v + 1, s = CONCAT('upd ', ?) WHERE id = ?", []any{rnd.Int63(), id}
				case r < 8:
					q, args = "DELETE FROM "+tbl+" WHERE id = ?", []any{id}
				case r < 9:
					next := nextID.Add(1)
					q, args = "INSERT INTO "+tbl+" VALUES (?, ?, 'new', 1.5, NOW(3))", []any{next, next}
				default:
					q, args = "INSERT IGNORE INTO "+tbl+" VALUES (?, -1, 'again', NULL, NULL)", []any{id}
				}
				if _, err := tx.ExecContext(ctx, q, args...); err != nil {
					break
				}
			}
			if tx.Commit() == nil {
				n.Add(1)
			}
		}
	}
}

// snapshotOf is the snapshot part of a commit position (nil: none).
// snapshotOf decodes a Commit's snapshot work (nil: none).
func snapshotOf(t *testing.T, enc string) *snapshot.State {
	t.Helper()
	if enc == "" {
		return nil
	}
	st, err := snapshot.Decode(enc)
	if err != nil {
		t.Fatalf("snapshot work %q: %v", enc, err)
	}
	return st
}

// waitSnapshotDone waits until a commit without snapshot part was recorded.
func waitSnapshotDone(t *testing.T, rec *recorder, streamErr func() error, within time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, "snapshot to finish", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		_, commits, _, _ := rec.snapshot()
		return len(commits) > 0 && snapshotOf(t, commits[len(commits)-1].Snapshot) == nil
	})
}

// caughtUp waits until the recorder has a commit at or after the server's
// current position.
func caughtUp(t *testing.T, rec *recorder, streamErr func() error, admin *sql.DB) {
	t.Helper()
	target := positionOf(t, serverPosition(t, admin))
	testenv.Eventually(t, waitFor, "stream to reach "+target.String(), func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		_, commits, _, _ := rec.snapshot()
		return len(commits) > 0 && positionOf(t, commits[len(commits)-1].Position).Compare(target) >= 0
	})
}

// rebuild applies changes of table in order, by key, as a consumer would.
func rebuild(t *testing.T, changes []*capture.Change, table string) map[string][]any {
	t.Helper()
	state := map[string][]any{}
	for _, c := range changes {
		if c.Table.Name != table {
			continue
		}
		switch c.Op {
		case capture.OpRead, capture.OpCreate:
			state[capture.KeyString(c.After, c.Table.Key)] = c.After
		case capture.OpUpdate:
			delete(state, capture.KeyString(c.Before, c.Table.Key))
			state[capture.KeyString(c.After, c.Table.Key)] = c.After
		case capture.OpDelete:
			delete(state, capture.KeyString(c.Before, c.Table.Key))
		default:
			t.Fatalf("unexpected op %q", c.Op)
		}
	}
	return state
}

// compareTable checks state against the table as the Reader reads it.
func compareTable(t *testing.T, s *Source, dbName, table string, state map[string][]any) {
	t.Helper()
	r, err := s.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[string][]any{}
	var after []any
	for {
		tbl, rows, err := r.ReadChunk(context.Background(), dbName, table, after, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			want[capture.KeyString(row, tbl.Key)] = row
		}
		if len(rows) < 5000 {
			break
		}
		last := rows[len(rows)-1]
		after = []any{last[tbl.Key[0]]}
	}
	missing, extra, differ := 0, 0, 0
	for k, w := range want {
		g, ok := state[k]
		switch {
		case !ok:
			missing++
		case !reflect.DeepEqual(g, w):
			if differ < 5 {
				t.Errorf("key %s: rebuilt %v, table %v", k, g, w)
			}
			differ++
		}
	}
	for k := range state {
		if _, ok := want[k]; !ok {
			extra++
		}
	}
	if missing+extra+differ > 0 {
		t.Errorf("rebuilt state vs table (%d rows): %d missing, %d extra, %d different", len(want), missing, extra, differ)
	}
}

func TestSnapshotInitialWithConcurrentWrites(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	fillBig(t, db, snapshotRows)
	testenv.Exec(t, db, "CREATE TABLE small (code VARCHAR(10) NOT NULL PRIMARY KEY, n INT)", "INSERT INTO small VALUES ('a', 1), ('b', 2)")
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 500, RowsPerSecond: 4000}
	})
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, from.Snapshot)
	if snap == nil || len(snap.Active) != 0 || !reflect.DeepEqual(snap.Pending, []string{name + ".big", name + ".small"}) {
		t.Fatalf("CurrentPosition %q: snapshot %+v, want big then small", from, snap)
	}

	stop := writer(t, name, snapshotRows)
	rec, streamErr := startStream(t, s, from)
	waitSnapshotDone(t, rec, streamErr, 90*time.Second)
	writes := stop()
	caughtUp(t, rec, streamErr, db)

	changes, commits, _, _ := rec.snapshot()
	reads := 0
	for _, c := range changes {
		if c.Op == capture.OpRead {
			reads++
			if !c.Snapshot || c.Before != nil || !strings.HasPrefix(c.EventPosition, "snapshot:"+name+".") {
				t.Fatalf("snapshot change %+v", c)
			}
		}
	}
	chunkCommits := 0
	for _, c := range commits {
		if snapshotOf(t, c.Snapshot) != nil {
			chunkCommits++
		}
	}
	t.Logf("%d writer transactions, %d changes (%d snapshot rows), %d commits", writes, len(changes), reads, len(commits))
	if writes < 50 || reads < snapshotRows/2 || chunkCommits < snapshotRows/500 {
		t.Errorf("too little happened: %d writes, %d reads, %d commits with a snapshot part", writes, reads, chunkCommits)
	}
	compareTable(t, s, name, "big", rebuild(t, changes, "big"))
	compareTable(t, s, name, "small", rebuild(t, changes, "small"))
	if p := s.SnapshotProgress(); len(p) != 2 || !p[0].Done || !p[1].Done || p[1].RowsDone != 2 {
		t.Errorf("progress %+v", p)
	}
}

func TestSnapshotResumesAtLastChunk(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	fillBig(t, db, snapshotRows)
	mod := func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 1000, RowsPerSecond: 4000}
	}
	s := testSource(t, name, mod)
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stop := writer(t, name, snapshotRows)
	defer stop()

	// First run: stop after three chunks.
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Stream(ctx, from, rec) }()
	testenv.Eventually(t, waitFor, "three chunks", func() bool {
		_, commits, _, _ := rec.snapshot()
		for i := len(commits) - 1; i >= 0; i-- {
			if cur, _ := snapshotOf(t, commits[i].Snapshot).Cursor(name + ".big"); cur.After != nil {
				return cur.After[0].(int64) >= 3000
			}
		}
		return false
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream after cancel: %v", err)
	}
	first, commits, _, _ := rec.snapshot()
	resume := commits[len(commits)-1].ResumeAt()
	cur, _ := snapshotOf(t, resume.Snapshot).Cursor(name + ".big")
	if cur.After == nil {
		t.Fatalf("last commit %q has no snapshot progress", resume.Position)
	}
	doneKey := cur.After[0].(int64)

	// Second run from the last commit the handler saw.
	s2 := testSource(t, name, mod)
	rec2, streamErr := startStream(t, s2, resume)
	waitSnapshotDone(t, rec2, streamErr, 90*time.Second)
	stop()
	caughtUp(t, rec2, streamErr, db)
	second, _, _, _ := rec2.snapshot()
	for _, c := range second {
		if c.Op == capture.OpRead {
			if id := c.After[0].(int64); id <= doneKey {
				t.Fatalf("first snapshot row after the restart has id %d, want past the finished chunks (%d)", id, doneKey)
			} else {
				t.Logf("resumed after id %d at id %d", doneKey, id)
			}
			break
		}
	}
	compareTable(t, s2, name, "big", rebuild(t, append(first, second...), "big"))
}

func TestSnapshotKeylessTable(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE nokey (code VARCHAR(10) NOT NULL, n INT)", "INSERT INTO nokey VALUES ('a', 1), ('b', 2), ('c', 3)")

	s := testSource(t, name, func(c *Config) { c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 2} })
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err = s.Stream(ctx, from, &recorder{})
	var perm *capture.PermanentError
	if err == nil || !errors.As(err, &perm) || !strings.Contains(err.Error(), name+".nokey") || !strings.Contains(err.Error(), "key_columns") {
		t.Fatalf("Stream = %v, want a permanent error naming %s.nokey and key_columns", err, name)
	}

	// With key_columns the table is chunked by them.
	s2 := testSource(t, name, func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 2}
		c.KeyColumns = map[string][]string{name + ".nokey": {"code"}}
	})
	from, err = s2.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec, streamErr := startStream(t, s2, from)
	waitSnapshotDone(t, rec, streamErr, waitFor)
	changes := rec.changesFor("nokey")
	var got []any
	for _, c := range changes {
		got = append(got, c.After[0])
	}
	if !reflect.DeepEqual(got, []any{"a", "b", "c"}) {
		t.Errorf("snapshot rows %v, want a b c", got)
	}
}

func TestSnapshotWhenNeededAfterPurgedBinlog(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	s := testSource(t, name, func(c *Config) { c.Snapshot = SnapshotConfig{Mode: SnapshotWhenNeeded} })
	// A checkpoint whose file the server does not have (as after a purge).
	rec, streamErr := startStream(t, s, resumeAt("purged-bin.000001:4"))
	waitSnapshotDone(t, rec, streamErr, waitFor)
	testenv.Exec(t, db, "UPDATE t SET v = 'x' WHERE id = 2")
	changes := waitChanges(t, rec, streamErr, "t", 3)
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s%v", c.Op, c.After))
	}
	if want := []string{"r[1 a]", "r[2 b]", "u[2 x]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	_, commits, _, _ := rec.snapshot()
	if p := positionOf(t, commits[0].Position); p.File == "purged-bin.000001" {
		t.Errorf("first commit %s still in the purged file", commits[0].Position)
	}

	// Mode never keeps refusing such a checkpoint.
	s2 := testSource(t, name, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s2.Stream(ctx, resumeAt("purged-bin.000001:4"), &recorder{}); !errors.Is(err, ErrPositionGone) {
		t.Errorf("mode never: Stream = %v, want ErrPositionGone", err)
	}
}

// Wide rows end a chunk early: memory holds about chunk_bytes, not
// chunk_size rows.
func TestSnapshotChunkByteBudget(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE wide (id INT PRIMARY KEY, body MEDIUMTEXT)",
		"INSERT INTO wide SELECT seq, REPEAT(MD5(seq), 3200) FROM seq_1_to_10") // 100 KB each
	s := testSource(t, name, func(c *Config) {
		c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 1000, ChunkBytes: 250_000}
	})
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec, streamErr := startStream(t, s, from)
	waitSnapshotDone(t, rec, streamErr, waitFor)
	rec.mu.Lock()
	chunks, rows := chunkSizes(rec.events, "wide")
	rec.mu.Unlock()
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
