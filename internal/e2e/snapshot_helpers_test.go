package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// preparePGTables creates the test's PostgreSQL database, runs stmts in it
// (they create tables, in schema public), grants the CDC role SELECT, makes
// a publication of tables, creates their topics and starts collecting
// them. Cleanup drops the slot once the daemon's walsender has let go of
// it (a database that holds a slot cannot be dropped), then the database.
func preparePGTables(t *testing.T, tables []string, stmts ...string) (*pgSetup, *collector) {
	t.Helper()
	return preparePGTablesIn(t, newSetup(t), tables, stmts...)
}

// preparePGTablesIn is preparePGTables in a setup of the caller's.
func preparePGTablesIn(t *testing.T, setup *setup, tables []string, stmts ...string) (*pgSetup, *collector) {
	t.Helper()
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := &pgSetup{setup: setup}
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, admin, "CREATE DATABASE "+s.Database)
	t.Cleanup(func() {
		dropSlot(t, admin, s.slot())
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + s.Database + " WITH (FORCE)"); err != nil {
			t.Logf("cleanup: drop database %s: %v", s.Database, err)
		}
		admin.Close()
	})
	s.db, err = sql.Open("pgx", testenv.PGURL(s.Database))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	testenv.Exec(t, s.db, stmts...)
	testenv.Exec(t, s.db,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION "+s.publication()+" FOR TABLE "+strings.Join(tables, ", "))
	topics := make([]string, len(tables))
	for i, tbl := range tables {
		topics[i] = s.pgTopic(tbl)
	}
	createTopics(t, 3, topics...)
	return s, collect(t, 3, topics...)
}

// rowWriter runs one writer's statements until stopped, counting them.
type rowWriter struct {
	writes atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// startRowWriter calls step with rng until it fails or the writer is
// stopped, sleeping pace after each (0: none). It is stopped when the test
// ends.
func startRowWriter(t *testing.T, rng *rand.Rand, pace time.Duration, step func(rng *rand.Rand) error) *rowWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &rowWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			if err := step(rng); err != nil {
				w.err = err
				return
			}
			w.writes.Add(1)
			if pace > 0 {
				time.Sleep(pace) // spreads the load; not synchronisation
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// startPGWriter changes rows of some tables at random until stopped:
// updates of one row or of a range of 20 (a multi-row transaction),
// deletes, upserts, and primary-key changes to a free key anywhere in the
// key range (so rows jump both ways across a snapshot's cursor). The tables
// have columns (id int PRIMARY KEY, v int, payload text); keys[i] bounds
// the ids of tables[i].
func startPGWriter(t *testing.T, db *sql.DB, seed uint64, tables []string, keys []int, pace time.Duration) *rowWriter {
	return startRowWriter(t, rand.New(rand.NewPCG(seed, 1)), pace, func(rng *rand.Rand) error {
		i := rng.IntN(len(tables))
		tbl, id := tables[i], 1+rng.IntN(keys[i])
		var err error
		switch rng.IntN(8) {
		case 0:
			_, err = db.Exec("DELETE FROM "+tbl+" WHERE id = $1", id)
		case 1:
			_, err = db.Exec("INSERT INTO "+tbl+" VALUES ($1, 1, 'inserted') ON CONFLICT (id) DO UPDATE SET v = "+tbl+".v + 1", id)
		case 2:
			to := 1 + rng.IntN(keys[i])
			_, err = db.Exec("UPDATE "+tbl+" SET id = $1, v = v + 1, payload = 'moved' WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM "+tbl+" WHERE id = $1)", to, id)
		case 3:
			_, err = db.Exec("UPDATE "+tbl+" SET v = v + 1, payload = 'range' WHERE id BETWEEN $1 AND $1 + 20", id)
		default:
			_, err = db.Exec("UPDATE "+tbl+" SET v = v + 1, payload = 'updated' WHERE id = $1", id)
		}
		if err != nil {
			return fmt.Errorf("writer on %s: %w", tbl, err)
		}
		return nil
	})
}

// check fails the test if the writer stopped on an error.
func (w *rowWriter) check(t *testing.T) {
	t.Helper()
	select {
	case <-w.done:
		if w.err != nil {
			t.Fatal(w.err)
		}
	default:
	}
}

// stop stops the writer and returns its error.
func (w *rowWriter) stop() error {
	w.cancel()
	<-w.done
	return w.err
}

// pgSnapshotTables is the schema statements of tables with n[i] rows each.
func pgSnapshotTables(tables []string, n []int) []string {
	var stmts []string
	for i, tbl := range tables {
		stmts = append(stmts,
			"CREATE TABLE "+tbl+" (id int PRIMARY KEY, v int NOT NULL, payload text NOT NULL)",
			fmt.Sprintf("INSERT INTO %s SELECT g, 0, 'row ' || g FROM generate_series(1, %d) g", tbl, n[i]))
	}
	return stmts
}

// dropSlot drops slot, waiting (bounded) for a killed daemon's walsender to
// release it.
func dropSlot(t *testing.T, admin *sql.DB, slot string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var exists, active bool
		err := admin.QueryRow("SELECT true, active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&exists, &active)
		if err == sql.ErrNoRows {
			return
		}
		if err == nil && !active {
			if _, err = admin.Exec("SELECT pg_drop_replication_slot($1)", slot); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Logf("cleanup: slot %s not dropped within 30s (active %v, last error %v)", slot, active, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// snapshotWatch follows a running daemon's checkpoints through /status
// and tells when the snapshot of a table has finished: a checkpoint without
// snapshot work after one with work of that table.
type snapshotWatch struct {
	d       *daemon
	kind    *sourceKind
	table   string
	started bool
}

// watchSnapshot starts watching; started says a checkpoint with the
// table's snapshot work is already known (the one a restart resumes from).
func (d *daemon) watchSnapshot(kind *sourceKind, table string, started bool) *snapshotWatch {
	return &snapshotWatch{d: d, kind: kind, table: table, started: started}
}

// finished reads /status once and reports whether the snapshot finished.
func (w *snapshotWatch) finished(t *testing.T) bool {
	t.Helper()
	sts := w.d.status(t)
	if sts.CheckpointPosition == "" {
		return false
	}
	st := w.kind.snapshotState(t, sts.CheckpointSnapshot)
	switch {
	case st.Has(w.table):
		w.started = true
	case st == nil && w.started:
		return true
	}
	return false
}

// checkpointedSnapshot is the snapshot work of the daemon's last checkpoint
// (/status), nil before the first or without any.
func (d *daemon) checkpointedSnapshot(t *testing.T, kind *sourceKind) *snapshot.State {
	t.Helper()
	sts := d.status(t)
	if sts.CheckpointPosition == "" {
		return nil
	}
	return kind.snapshotState(t, sts.CheckpointSnapshot)
}

// intCursor is the integer key a table's snapshot cursor is after (0: not
// active, or at the table's start).
func intCursor(st *snapshot.State, table string) int64 {
	c, ok := st.Cursor(table)
	if !ok || len(c.After) != 1 {
		return 0
	}
	k, _ := c.After[0].(int64)
	return k
}

// intKey is an event's integer "id" key.
func intKey(t *testing.T, ev event) int64 {
	t.Helper()
	k, err := strconv.ParseInt(string(ev.Key["id"]), 10, 64)
	if err != nil {
		t.Fatalf("event %s: key id %s is not an integer", ev.ID, ev.Key["id"])
	}
	return k
}

// topicStateDiff rebuilds table's rows (id → "v/payload") from its events,
// the last event per key winning, and compares them with the table.
// It returns up to five differences and how many there are.
func topicStateDiff(t *testing.T, db *sql.DB, c *collector, table string) (diffs []string, n int) {
	t.Helper()
	evs, errs := c.snapshot()
	if len(errs) > 0 {
		t.Fatalf("consuming: %v", errs)
	}
	rebuilt := map[int64]string{}
	for _, ev := range evs {
		if tableOf(ev) != table {
			continue
		}
		if ev.Op == "d" {
			delete(rebuilt, intKey(t, ev))
			continue
		}
		var payload string
		if err := json.Unmarshal(ev.After["payload"], &payload); err != nil {
			t.Fatalf("event %s: payload %s: %v", ev.ID, ev.After["payload"], err)
		}
		rebuilt[intKey(t, ev)] = string(ev.After["v"]) + "/" + payload
	}
	rows, err := db.Query("SELECT id, v, payload FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	add := func(d string) {
		if n++; n <= 5 {
			diffs = append(diffs, d)
		}
	}
	for rows.Next() {
		var id int64
		var v int
		var payload string
		if err := rows.Scan(&id, &v, &payload); err != nil {
			t.Fatal(err)
		}
		want := strconv.Itoa(v) + "/" + payload
		got, ok := rebuilt[id]
		delete(rebuilt, id)
		switch {
		case !ok:
			add(fmt.Sprintf("%s id %d: missing from the topic", table, id))
		case got != want:
			add(fmt.Sprintf("%s id %d: topic %q, table %q", table, id, got, want))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range rebuilt {
		add(fmt.Sprintf("%s id %d: in the topic, not in the table", table, id))
	}
	return diffs, n
}

// waitTopicState waits until the state rebuilt from each table's topic
// equals the table.
func waitTopicState(t *testing.T, db *sql.DB, c *collector, timeout time.Duration, tables ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, table := range tables {
		for {
			diffs, n := topicStateDiff(t, db, c, table)
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s the state rebuilt from %s's topic still differs from the table in %d keys, e.g.:\n%s",
					timeout, table, n, strings.Join(diffs, "\n"))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}
