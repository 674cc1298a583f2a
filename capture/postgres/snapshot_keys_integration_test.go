package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// maxEventPosition bounds an event's source.position: an LSN is at most
// 17 characters ("FFFFFFFF/FFFFFFFF").
const maxEventPosition = 17

// An initial snapshot of many tables: every event (r rows and the changes
// streamed meanwhile) carries the LSN alone, while the Commits, which
// become checkpoints, carry the snapshot's state (which grows with every
// pending table).
func TestManyTableSnapshotEventPositionsAreLSNs(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	const tables = 30
	var names []string
	for i := range tables {
		n := fmt.Sprintf("t%02d", i)
		names = append(names, n)
		testenv.Exec(t, db, "CREATE TABLE "+n+" (id int PRIMARY KEY, v text)", "INSERT INTO "+n+" VALUES (1, 'a'), (2, 'b')")
	}
	testenv.Exec(t, db, "CREATE TABLE c (id serial PRIMARY KEY, note text)",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE c, "+strings.Join(names, ", "))
	s := testSource(t, name, func(c *Config) { c.Snapshot = snapshot.Config{Mode: snapshot.Initial} })
	rec := &recorder{}
	streamErr, stop := startStream(t, s, capture.Resume{}, rec)
	testenv.Exec(t, db, "UPDATE t00 SET v = 'changed' WHERE id = 1", "UPDATE t29 SET v = 'changed' WHERE id = 2")
	snapshotDone(t, rec, streamErr)
	waitMarker(t, db, rec, streamErr)
	stop()

	changes, commits, _ := rec.snapshot()
	reads := 0
	for _, c := range changes {
		if c.Op == capture.OpRead {
			reads++
		}
		if _, err := pglogrepl.ParseLSN(c.Position); err != nil || len(c.Position) > maxEventPosition {
			t.Fatalf("%s event of %s: position %q (%d characters), want an LSN alone (%v)", c.Op, c.Table.Name, c.Position, len(c.Position), err)
		}
	}
	if reads < 2*tables {
		t.Errorf("%d snapshot rows, want at least %d", reads, 2*tables)
	}
	longest := 0
	for _, c := range commits {
		if _, _, err := ParseResume(c.ResumeAt()); err != nil {
			t.Fatalf("commit position %q, snapshot %q: %v", c.Position, c.Snapshot, err)
		}
		longest = max(longest, len(c.Snapshot))
	}
	if longest < 10*tables {
		t.Errorf("the longest Commit snapshot work has %d characters: the snapshot state of %d tables is not in the checkpoints", longest, tables)
	}
}

// A snapshot of a table with REPLICA IDENTITY USING INDEX keys its rows by
// that index, as the stream keys its changes: a consumer compacting by key
// sees the snapshot row and the later delete under the same key.
func TestReplicaIdentityIndexSnapshotKey(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE ri (id int PRIMARY KEY, email text NOT NULL UNIQUE)`,
		`ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_email_key`,
		`INSERT INTO ri VALUES (1, 'a@example.com'), (2, 'b@example.com')`,
		"CREATE TABLE c (id serial PRIMARY KEY, note text)",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE ri, c")
	s := testSource(t, name, func(c *Config) { c.Snapshot = snapshot.Config{Mode: snapshot.Initial} })
	rec := &recorder{}
	streamErr, stop := startStream(t, s, capture.Resume{}, rec)
	snapshotDone(t, rec, streamErr)
	testenv.Exec(t, db, `DELETE FROM ri WHERE id = 1`)
	waitMarker(t, db, rec, streamErr)
	stop()

	var reads, deletes []*capture.Change
	for _, c := range rec.changesFor("ri") {
		switch c.Op {
		case capture.OpRead:
			reads = append(reads, c)
		case capture.OpDelete:
			deletes = append(deletes, c)
		}
	}
	if len(reads) != 2 || len(deletes) != 1 {
		t.Fatalf("%d snapshot rows and %d deletes, want 2 and 1", len(reads), len(deletes))
	}
	for _, c := range append(reads, deletes...) {
		if k := c.Table.Key; len(k) != 1 || c.Table.Columns[k[0]].Name != "email" {
			t.Errorf("%s: key columns %v, want [email] (the replica identity index)", c.Op, k)
		}
	}
	if want := `{"email":"a@example.com"}`; !strings.Contains(reads[0].EventPosition, want) {
		t.Errorf("snapshot row event position %q, want it named by %s", reads[0].EventPosition, want)
	}
	if got := capture.KeyString(deletes[0].Before, deletes[0].Table.Key); got != capture.KeyString(reads[0].After, reads[0].Table.Key) {
		t.Errorf("delete key %s differs from the snapshot row's", got)
	}
}

// An on-demand snapshot accepts a table keyed by its replica identity
// index alone (no primary key), as the stream and the reader key it.
func TestSnapshotRequestAcceptsReplicaIdentityIndex(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE rino (code text NOT NULL UNIQUE, v text)`,
		`ALTER TABLE rino REPLICA IDENTITY USING INDEX rino_code_key`, `CREATE TABLE nokey (v text)`)
	s := testSource(t, name, nil)
	if err := s.CheckSnapshotTables(context.Background(), []string{"public.rino"}); err != nil {
		t.Errorf("CheckSnapshotTables(rino): %v", err)
	}
	if err := s.CheckSnapshotTables(context.Background(), []string{"public.nokey"}); err == nil {
		t.Errorf("CheckSnapshotTables accepted a table without any key")
	}
}
