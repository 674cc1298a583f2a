package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// prepare creates the test's database with the workload tables and its
// topics, and starts collecting the topics.
func prepare(t *testing.T, s *setup) (*sql.DB, *collector) {
	t.Helper()
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	db, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + s.Database)
		db.Close()
	})
	testenv.Exec(t, db, "CREATE DATABASE "+s.Database, fmt.Sprintf(workloadSchema, s.Database))
	createTopics(t, 3, s.topic("t1"), s.topic("t2"))
	return db, collect(t, 3, s.topic("t1"), s.topic("t2"))
}

// waitDelivered polls Kafka until every expected change has arrived (after
// de-duplication), then checks each key's sequence against commit order.
func waitDelivered(t *testing.T, c *collector, w *workload, timeout time.Duration) (dups int) {
	t.Helper()
	var unique []event
	testenv.Eventually(t, timeout, fmt.Sprintf("%d changes to reach Kafka", w.changes), func() bool {
		evs, errs := c.snapshot()
		if len(errs) > 0 {
			t.Fatalf("consuming: %v", errs)
		}
		unique, dups = dedupe(evs)
		return len(unique) >= w.changes
	})
	if diffs := compare(w.expected, perKey(t, unique)); len(diffs) > 0 {
		t.Fatalf("%d keys differ from commit order, e.g.:\n%s", len(diffs), strings.Join(diffs[:min(10, len(diffs))], "\n"))
	}
	if len(unique) != w.changes {
		t.Fatalf("got %d distinct events, want %d", len(unique), w.changes)
	}
	return dups
}

// checkFinalState compares the state rebuilt from the events with the table.
func checkFinalState(t *testing.T, db *sql.DB, w *workload) {
	t.Helper()
	rows, err := db.Query(w.sql("SELECT id, v FROM %s.t1"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	table := map[int]int{}
	for rows.Next() {
		var id, v int
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		table[id] = v
	}
	rebuilt := map[int]int{}
	for k, seq := range w.expected {
		table, id, _ := strings.Cut(k, "/")
		last := seq[len(seq)-1]
		if table != "t1" || strings.HasPrefix(last, "d:") {
			continue
		}
		n, _ := strconv.Atoi(id)
		v, _ := strconv.Atoi(last[2:])
		rebuilt[n] = v
	}
	if fmt.Sprint(table) != fmt.Sprint(rebuilt) {
		t.Fatalf("state rebuilt from events (%d rows) differs from the source table (%d rows)", len(rebuilt), len(table))
	}
}

func TestMixedWorkloadKeepsPerKeyCommitOrder(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	d := startDaemon(t, "run", "-c", s.writeConfig(t, ""))
	d.waitStreaming(t)

	w := newWorkload(db, s.Database, 10000, 1)
	if err := w.run(context.Background(), 50000); err != nil {
		t.Fatal(err)
	}
	dups := waitDelivered(t, c, w, 5*time.Minute)
	checkFinalState(t, db, w)
	t.Logf("%d changes over %d keys delivered in commit order; %d duplicates", w.changes, len(w.expected), dups)
	d.stop(t)
}

// Rewinding the checkpoint makes the next run deliver the same events again.
func TestRewindReplaysEvents(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, "")
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	w := newWorkload(db, s.Database, 100, 5)
	if err := w.run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, c, w, 2*time.Minute)
	d.stop(t)

	// Rewind to the first event's transaction start and run again.
	evs, _ := c.snapshot()
	first := evs[0]
	for _, ev := range evs {
		if position(t, ev.Source.Position).Compare(position(t, first.Source.Position)) < 0 {
			first = ev
		}
	}
	out, err := runCLI(t, "checkpoints", "rewind", "-c", cfg, "--source", s.Source, "--to", first.Source.Position)
	if err != nil {
		t.Fatalf("rewind: %v\n%s", err, out)
	}
	before := len(evs)
	d = startDaemon(t, "run", "-c", cfg)
	testenv.Eventually(t, 2*time.Minute, "the rewound events to be delivered again", func() bool {
		evs, _ := c.snapshot()
		return len(evs) >= before+w.changes
	})
	evs, _ = c.snapshot()
	_, dups := dedupe(evs)
	if dups < w.changes {
		t.Fatalf("after rewind %d events were re-delivered, want all %d", dups, w.changes)
	}
	d.stop(t)
}

func position(t *testing.T, s string) mysqlsource.Position {
	t.Helper()
	p, err := mysqlsource.ParsePosition(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	d := startDaemon(t, args...)
	<-d.waited
	return d.logs.String(), d.err
}
