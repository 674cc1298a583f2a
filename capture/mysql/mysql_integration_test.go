package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

const waitFor = 15 * time.Second

// waitChanges waits until table has n changes (failing on a Stream error).
func waitChanges(t *testing.T, rec *recorder, streamErr func() error, table string, n int) []*capture.Change {
	t.Helper()
	testenv.Eventually(t, waitFor, "changes of "+table, func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		return len(rec.changesFor(table)) >= n
	})
	return rec.changesFor(table)
}

func compareRow(t *testing.T, what string, cols []capture.Column, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s column %s (%s): got %#v (%T), want %#v (%T)", what, cols[i].Name, cols[i].Type, got[i], got[i], want[i], want[i])
		}
	}
}

func TestTypesInsertUpdateDelete(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, typesDDL)
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, typesRows...)
	changes := waitChanges(t, rec, streamErr, "types", 5)
	if len(changes) != 5 {
		t.Fatalf("got %d changes, want 5", len(changes))
	}

	tbl := changes[0].Table
	wantCols := []string{
		"id int", "ti tinyint", "tiu tinyint unsigned", "si smallint", "siu smallint unsigned", "mi mediumint", "miu mediumint unsigned",
		"i int", "iu int unsigned", "bi bigint", "biu bigint unsigned", "d decimal(10,2)", "dbig decimal(65,30)", "f float", "dbl double",
		"dt date", "tm time", "tm6 time(6)", "dtm datetime", "dtm6 datetime(6)", "ts timestamp", "ts6 timestamp(6)", "y year",
		"c char", "vc varchar", "tx text", "mtx mediumtext", "bn binary(4)", "vb varbinary", "bl blob",
		"j json", "e enum('a','b','c')", "st set('x','y','z')", "b1 bit(1)", "b64 bit(64)",
	}
	var gotCols []string
	for _, c := range tbl.Columns {
		gotCols = append(gotCols, c.Name+" "+c.Type)
	}
	if !reflect.DeepEqual(gotCols, wantCols) {
		t.Errorf("columns:\n got %q\nwant %q", gotCols, wantCols)
	}
	if tbl.Database != name || tbl.Name != "types" || !reflect.DeepEqual(tbl.Key, []int{0}) {
		t.Errorf("table = %s.%s key %v, want %s.types key [0]", tbl.Database, tbl.Name, tbl.Key, name)
	}

	row1 := []any{int64(1),
		int64(127), uint64(255), int64(32767), uint64(65535), int64(8388607), uint64(16777215),
		int64(2147483647), uint64(4294967295), int64(9223372036854775807), uint64(18446744073709551615),
		"12345678.90", "12345678901234567890123456789012345.123456789012345678901234567890", float32(1.5), float64(2.25),
		"2024-01-31", "838:59:59", "-838:59:59.000000", "2024-01-31 23:59:59", "2024-01-31 23:59:59.123456", "2024-01-31T23:59:59Z", "2038-01-19T03:14:07.999999Z", int64(2155),
		"héllo", "😀 漢字 текст", "long 🚀 text", "m",
		[]byte{1, 2, 0, 0}, []byte{0, 0xff}, []byte{0xde, 0xad, 0xbe, 0xef},
		json.RawMessage(`{"a": [1, 2, {"b": null}]}`), "c", []string{"x", "z"}, uint64(1), uint64(18446744073709551615),
	}
	row2 := []any{int64(2),
		int64(-128), uint64(0), int64(-32768), uint64(0), int64(-8388608), uint64(0),
		int64(-2147483648), uint64(0), int64(-9223372036854775808), uint64(0),
		"-12345678.90", "-0.000000000000000000000000000001", float32(-1.5), float64(-2.25),
		"1000-01-01", "-00:00:01", "-00:00:00.000001", "1000-01-01 00:00:00", "1000-01-01 00:00:00.000000", "1970-01-01T00:00:01Z", "1970-01-01T00:00:01.000001Z", int64(1901),
		"", "", "", "",
		[]byte{0, 0, 0, 0}, []byte{}, []byte{},
		json.RawMessage(`[]`), "a", []string{}, uint64(0), uint64(0),
	}
	row3 := make([]any, len(row1))
	row3[0] = int64(3)
	row1upd := append([]any(nil), row1...)
	row1upd[11], row1upd[24] = "1.00", "updated"

	want := []struct {
		op            capture.Op
		before, after []any
	}{
		{capture.OpCreate, nil, row1},
		{capture.OpCreate, nil, row2},
		{capture.OpCreate, nil, row3},
		{capture.OpUpdate, row1, row1upd},
		{capture.OpDelete, row2, nil},
	}
	for i, w := range want {
		c := changes[i]
		if c.Op != w.op {
			t.Errorf("change %d: op %q, want %q", i, c.Op, w.op)
		}
		if (c.Before == nil) != (w.before == nil) || (c.After == nil) != (w.after == nil) {
			t.Errorf("change %d: before/after presence wrong: %v/%v", i, c.Before != nil, c.After != nil)
			continue
		}
		if w.before != nil {
			compareRow(t, "change "+string(rune('0'+i))+" before", tbl.Columns, c.Before, w.before)
		}
		if w.after != nil {
			compareRow(t, "change "+string(rune('0'+i))+" after", tbl.Columns, c.After, w.after)
		}
		if c.ServerID != 1 || c.GTID == "" || c.TxID != c.GTID || c.CommitTime.IsZero() || c.RowIndex != 0 {
			t.Errorf("change %d: metadata server=%d gtid=%q txid=%q time=%v row=%d", i, c.ServerID, c.GTID, c.TxID, c.CommitTime, c.RowIndex)
		}
		if _, err := ParsePosition(c.EventPosition); err != nil {
			t.Errorf("change %d: EventPosition: %v", i, err)
		}
	}
}

func TestZeroDates(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "SET SESSION sql_mode = ''",
		"CREATE TABLE z (id INT PRIMARY KEY, d DATE, dt DATETIME(3), ts TIMESTAMP NULL, pd DATE)")
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, "INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00', '2024-00-00')")
	c := waitChanges(t, rec, streamErr, "z", 1)[0]
	compareRow(t, "zero dates", c.Table.Columns, c.After,
		[]any{int64(1), "0000-00-00", "0000-00-00 00:00:00.000", "0000-00-00 00:00:00", "2024-00-00"})
}

// The conformance suite proves the transaction boundaries and resumes;
// this is what MariaDB/MySQL add: a Commit's position carries the GTID
// set, every change of a transaction its GTID, and the rows of one
// multi-row event share its position with increasing row indexes.
func TestTransactionGTIDsAndRowIndexes(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db,
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10))")
	start := serverPosition(t, db)
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(start))

	testenv.Exec(t, db, "BEGIN",
		"INSERT INTO a VALUES (1, 'a1'), (2, 'a2')",
		"INSERT INTO b VALUES (1, 'b1')",
		"UPDATE a SET v = 'a1x' WHERE id = 1",
		"COMMIT")
	waitChanges(t, rec, streamErr, "a", 3)
	var events []any
	testenv.Eventually(t, waitFor, "the transaction's commit", func() bool {
		_, _, _, all := rec.snapshot()
		events = events[:0]
		for i, e := range all {
			if c, ok := e.(*capture.Change); ok && c.Table.Database == name {
				events = append(events, c)
				if i+1 < len(all) {
					if cm, ok := all[i+1].(capture.Commit); ok {
						events = append(events, cm)
					}
				}
			}
		}
		return len(events) == 5
	})
	commit, ok := events[4].(capture.Commit)
	if !ok {
		t.Fatalf("events %v, want four changes and their commit", events)
	}
	if positionOf(t, commit.Position).GTIDSet == "" {
		t.Errorf("commit position %s has no GTID set", commit.Position)
	}
	tx := events[0].(*capture.Change)
	for i := 0; i < 4; i++ {
		c := events[i].(*capture.Change)
		if c.GTID != tx.GTID || c.GTID == "" {
			t.Errorf("change %d: gtid %q, want the transaction's %q", i, c.GTID, tx.GTID)
		}
	}
	if a1, a2 := events[0].(*capture.Change), events[1].(*capture.Change); a1.EventPosition != a2.EventPosition || a1.RowIndex != 0 || a2.RowIndex != 1 {
		t.Errorf("multi-row event: %s/%d and %s/%d", a1.EventPosition, a1.RowIndex, a2.EventPosition, a2.RowIndex)
	}
}

func positionOf(t *testing.T, s string) Position {
	t.Helper()
	p, err := ParsePosition(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlterTableMidStream(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))")
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db,
		"INSERT INTO t VALUES (1, 'x')",
		"ALTER TABLE t ADD COLUMN n INT UNSIGNED NOT NULL DEFAULT 7 AFTER id",
		"INSERT INTO t VALUES (2, 8, 'y')")
	changes := waitChanges(t, rec, streamErr, "t", 2)
	_, _, schemas, _ := rec.snapshot()
	if len(schemas) != 1 || schemas[0].Database != name || !strings.HasPrefix(schemas[0].Statement, "ALTER TABLE t ADD COLUMN n") {
		t.Fatalf("schema changes %+v, want the ALTER in %s", schemas, name)
	}
	if got := changes[0].Table.Columns; len(got) != 2 || got[1].Name != "a" {
		t.Errorf("before ALTER columns %v", got)
	}
	if !reflect.DeepEqual(changes[0].After, []any{int64(1), "x"}) {
		t.Errorf("before ALTER row %v", changes[0].After)
	}
	cols := changes[1].Table.Columns
	if len(cols) != 3 || cols[1] != (capture.Column{Name: "n", Type: "int unsigned"}) || cols[2].Name != "a" {
		t.Errorf("after ALTER columns %v", cols)
	}
	if !reflect.DeepEqual(changes[1].After, []any{int64(2), uint64(8), "y"}) {
		t.Errorf("after ALTER row %v", changes[1].After)
	}
	if s.Stats().SchemaChanges != 1 {
		t.Errorf("stats %+v", s.Stats())
	}
}

func TestMinimalRowImage(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE m (id INT PRIMARY KEY, a VARCHAR(10), b INT)",
		"INSERT INTO m VALUES (1, 'x', 10)")
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, "SET SESSION binlog_row_image = 'MINIMAL'",
		"UPDATE m SET b = 11 WHERE id = 1",
		"DELETE FROM m WHERE id = 1")
	changes := waitChanges(t, rec, streamErr, "m", 2)
	upd := changes[0]
	if !reflect.DeepEqual(upd.Before, []any{int64(1), capture.Absent, capture.Absent}) {
		t.Errorf("update before = %#v, want id then Absent", upd.Before)
	}
	if !reflect.DeepEqual(upd.After, []any{capture.Absent, capture.Absent, int64(11)}) {
		t.Errorf("update after = %#v, want only b", upd.After)
	}
	if !reflect.DeepEqual(changes[1].Before, []any{int64(1), capture.Absent, capture.Absent}) {
		t.Errorf("delete before = %#v", changes[1].Before)
	}
}

func TestIncludeExcludeAndStatementDML(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE keep (id INT PRIMARY KEY)", "CREATE TABLE skip (id INT PRIMARY KEY)",
		"CREATE TABLE nokey (a INT, b INT)")
	s := testSource(t, name, func(c *Config) {
		c.Exclude = []string{name + ".sk*"}
		c.KeyColumns = map[string][]string{name + ".nokey": {"b"}}
	})
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, "INSERT INTO skip VALUES (1)", "INSERT INTO nokey VALUES (5, 6)",
		"SET SESSION binlog_format = 'STATEMENT'", "INSERT INTO keep VALUES (9)", "SET SESSION binlog_format = 'ROW'",
		"INSERT INTO keep VALUES (1)")
	waitChanges(t, rec, streamErr, "keep", 1)
	changes, _, _, _ := rec.snapshot()
	if len(changes) != 2 || changes[0].Table.Name != "nokey" || !reflect.DeepEqual(changes[0].Table.Key, []int{1}) {
		t.Fatalf("changes %v", changes)
	}
	st := s.Stats()
	if st.StatementDML != 1 || st.ExcludedRowsEvts < 1 || st.Commits < 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestPreflightRowMetadata changes a global setting: not parallel.
func TestPreflightRowMetadata(t *testing.T) {
	db, name := testDB(t)
	var old string
	if err := db.QueryRow("SELECT @@GLOBAL.binlog_row_metadata").Scan(&old); err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, db, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
	t.Cleanup(func() { testenv.Exec(t, db, "SET GLOBAL binlog_row_metadata = '"+old+"'") })
	s := testSource(t, name, nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Stream(ctx, capture.Resume{}, &recorder{})
	if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "binlog_row_metadata=MINIMAL") {
		t.Fatalf("Stream = %v, want a preflight error naming binlog_row_metadata", err)
	}
}

func TestKeylessTableRefusedAtStart(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE audit (at DATETIME, what VARCHAR(20))", "CREATE TABLE ok (id INT PRIMARY KEY)")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	err := testSource(t, name, nil).Stream(ctx, capture.Resume{}, &recorder{})
	var perm *capture.PermanentError
	if !errors.Is(err, ErrPreflight) || !errors.As(err, &perm) || !strings.Contains(err.Error(), name+".audit") ||
		!strings.Contains(err.Error(), "sources[test].key_columns") {
		t.Fatalf("Stream = %v, want a permanent preflight error naming %s.audit and key_columns", err, name)
	}

	// Configured key columns, or an exclude, let it start.
	for i, mod := range []func(*Config){
		func(c *Config) { c.KeyColumns = map[string][]string{name + ".audit": {"at"}} },
		func(c *Config) { c.Exclude = []string{name + ".audit"} },
	} {
		rec, streamErr := startStream(t, testSource(t, name, mod), resumeAt(""))
		testenv.Eventually(t, waitFor, "a change streamed", func() bool {
			testenv.Exec(t, db, "INSERT INTO ok SELECT COALESCE(MAX(id), 0) + 1 FROM ok")
			if err := streamErr(); err != nil {
				t.Fatalf("config %d: Stream: %v", i, err)
			}
			return len(rec.changesFor("ok")) > 0
		})
	}
}

func TestWrongPasswordIsPermanent(t *testing.T) {
	t.Parallel()
	_, name := testDB(t)
	s := testSource(t, name, func(c *Config) { c.Password = "wrong" })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := s.Stream(ctx, capture.Resume{}, &recorder{})
	var perm *capture.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "sources[test].user") {
		t.Fatalf("Stream = %v, want a permanent error pointing at the credentials", err)
	}
	// Without a checkpoint the pipeline asks for the current position
	// first: the refusal must be permanent there too, or it retries forever.
	_, err = s.CurrentPosition(ctx)
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "sources[test].user") || !strings.Contains(err.Error(), "password_env") {
		t.Fatalf("CurrentPosition = %v, want a permanent error pointing at the credentials", err)
	}
}
