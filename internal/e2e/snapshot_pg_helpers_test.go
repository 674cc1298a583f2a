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

	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
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
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := &pgSetup{setup: newSetup(t)}
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

// pgWriter changes rows of some tables at random until stopped: updates of
// one row or of a range of 20 (a multi-row transaction), deletes, upserts,
// and primary-key changes to a free key anywhere in the key range (so rows
// jump both ways across a snapshot's cursor). The tables have columns
// (id int PRIMARY KEY, v int, payload text).
type pgWriter struct {
	writes atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// startPGWriter starts a writer; keys[i] bounds the ids of tables[i]. It is
// stopped when the test ends.
func startPGWriter(t *testing.T, db *sql.DB, seed uint64, tables []string, keys []int, pace time.Duration) *pgWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &pgWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		rng := rand.New(rand.NewPCG(seed, 1))
		for ctx.Err() == nil {
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
				w.err = fmt.Errorf("writer on %s: %w", tbl, err)
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

// check fails the test if the writer stopped on an error.
func (w *pgWriter) check(t *testing.T) {
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
func (w *pgWriter) stop() error {
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

// pgSnapshotStates is the snapshot work each checkpoint in a daemon's log
// carries, in order; nil for a position without any.
func pgSnapshotStates(t *testing.T, logs string) []*snapshot.State {
	t.Helper()
	var out []*snapshot.State
	for _, m := range checkpointPosition.FindAllStringSubmatch(completeLines(logs), -1) {
		_, st, err := pgsource.ParsePosition(unquote(m[1]))
		if err != nil {
			t.Fatalf("checkpoint position %q: %v", m[1], err)
		}
		out = append(out, st)
	}
	return out
}

// completeLines drops a last line the daemon is still writing.
func completeLines(logs string) string {
	return logs[:strings.LastIndexByte(logs, '\n')+1]
}

// pgSnapshotFinished reports whether a checkpoint without snapshot work
// followed one with snapshot work of table.
func pgSnapshotFinished(states []*snapshot.State, table string) bool {
	started := false
	for _, st := range states {
		switch {
		case st.Has(table):
			started = true
		case st == nil && started:
			return true
		}
	}
	return false
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
