package mysql

import (
	"database/sql"
	"fmt"
	"reflect"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// txEvents returns the changes of database db and the Commits that follow
// them, in stream order, with the Commit count between the first and the
// last change of db.
func txEvents(all []any, db string) (changes []*capture.Change, commitsInside int, commitAfter *capture.Commit) {
	last := -1
	for i, e := range all {
		if c, ok := e.(*capture.Change); ok && c.Table.Database == db {
			changes = append(changes, c)
			last = i
		}
	}
	first := -1
	for i, e := range all {
		if c, ok := e.(*capture.Change); ok && c.Table.Database == db {
			first = i
			break
		}
	}
	for i := first; i >= 0 && i < last; i++ {
		if _, ok := all[i].(capture.Commit); ok {
			commitsInside++
		}
	}
	for i := last + 1; last >= 0 && i < len(all); i++ {
		if c, ok := all[i].(capture.Commit); ok {
			commitAfter = &c
			break
		}
	}
	return changes, commitsInside, commitAfter
}

// A SAVEPOINT (or ROLLBACK TO) inside a transaction is not a boundary:
// every row of the transaction carries its GTID and the position before
// it, and one Commit follows the last row.
func TestSavepointsStayInsideTheTransaction(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	start := serverPosition(t, db)
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(start))
	testenv.Exec(t, db, "BEGIN",
		"INSERT INTO t VALUES (1, 1)",
		"SAVEPOINT s1",
		"INSERT INTO t VALUES (2, 2)",
		"ROLLBACK TO s1",
		"SAVEPOINT s2",
		"INSERT INTO t VALUES (3, 3)",
		"RELEASE SAVEPOINT s2",
		"UPDATE t SET v = 10 WHERE id = 1",
		"COMMIT")
	waitChanges(t, rec, streamErr, "t", 3)
	testenv.Eventually(t, waitFor, "the commit after the transaction", func() bool {
		_, _, _, all := rec.snapshot()
		_, _, after := txEvents(all, name)
		return after != nil
	})
	_, _, _, all := rec.snapshot()
	changes, inside, after := txEvents(all, name)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Op)+keyOf(c))
	}
	if want := []string{"c1", "c3", "u1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	if inside != 0 {
		t.Errorf("%d Commits between the transaction's rows, want 0", inside)
	}
	first := changes[0]
	if first.GTID == "" || first.TxID != first.GTID {
		t.Errorf("first row: gtid %q txid %q, want the transaction's GTID in both", first.GTID, first.TxID)
	}
	for i, c := range changes {
		if c.Position != first.Position || c.GTID != first.GTID || c.TxID != first.TxID {
			t.Errorf("row %d: position %s gtid %q txid %q, want the transaction's %s %q %q", i, c.Position, c.GTID, c.TxID, first.Position, first.GTID, first.TxID)
		}
	}
	if p := positionOf(t, first.Position); p.Compare(positionOf(t, start)) < 0 || p.Compare(positionOf(t, after.Position)) >= 0 {
		t.Errorf("transaction position %s, want between the start %s and its commit %s", first.Position, start, after.Position)
	}
}

func keyOf(c *capture.Change) string {
	img := c.After
	if img == nil {
		img = c.Before
	}
	return fmt.Sprint(img[0])
}

// An XA transaction's rows are emitted when XA COMMIT is read, in that
// commit's place in the stream; a rolled-back one emits nothing, and while
// one is prepared the Commits hold the position before its prepare, so a
// restart reads it again.
func TestXATransactionsEmitAtXACommit(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	other, err := sql.Open("mysql", testenv.MySQLDSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, "XA START 'x1'", "INSERT INTO t VALUES (10)", "XA END 'x1'", "XA PREPARE 'x1'")
	beforeOther := serverPosition(t, other)
	testenv.Exec(t, other, "INSERT INTO t VALUES (11)")
	waitChanges(t, rec, streamErr, "t", 1)
	testenv.Eventually(t, waitFor, "the commit after row 11", func() bool {
		_, _, _, all := rec.snapshot()
		_, _, after := txEvents(all, name)
		return after != nil
	})
	_, _, _, all := rec.snapshot()
	_, _, held := txEvents(all, name)
	if p := positionOf(t, held.Position); p.Compare(positionOf(t, beforeOther)) >= 0 {
		t.Errorf("commit while x1 is prepared at %s, want held before x1's prepare (before %s)", held.Position, beforeOther)
	}
	testenv.Exec(t, db, "XA COMMIT 'x1'",
		"XA START 'x2'", "INSERT INTO t VALUES (20)", "XA END 'x2'", "XA PREPARE 'x2'", "XA ROLLBACK 'x2'",
		"XA START 'x3'", "INSERT INTO t VALUES (30)", "XA END 'x3'", "XA COMMIT 'x3' ONE PHASE",
		"INSERT INTO t VALUES (40)")
	waitChanges(t, rec, streamErr, "t", 4)
	var got []string
	for _, c := range rec.changesFor("t") {
		got = append(got, string(c.Op)+keyOf(c))
	}
	if want := []string{"c11", "c10", "c30", "c40"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	testenv.Eventually(t, waitFor, "the commit after row 40", func() bool {
		_, _, _, all := rec.snapshot()
		_, _, after := txEvents(all, name)
		return after != nil && positionOf(t, after.Position).Compare(positionOf(t, beforeOther)) > 0
	})
}
