package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/transform"
)

const waitFor = 20 * time.Second

// waitChanges waits until table has n changes (failing on a Stream error).
func waitChanges(t *testing.T, rec *recorder, streamErr func() error, table string, n int) []*capture.Change {
	t.Helper()
	testenv.Eventually(t, waitFor, fmt.Sprintf("%d changes of %s", n, table), func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		return len(rec.changesFor(table)) >= n
	})
	return rec.changesFor(table)
}

// currentPosition creates the slot and returns where streaming starts.
func currentPosition(t *testing.T, s *Source) string {
	t.Helper()
	pos, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatalf("CurrentPosition: %v", err)
	}
	return pos.Position
}

func compareRow(t *testing.T, what string, cols []capture.Column, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !equalNaN(got[i], want[i]) {
			t.Errorf("%s column %s (%s): got %#v (%T), want %#v (%T)", what, cols[i].Name, cols[i].Type, got[i], got[i], want[i], want[i])
		}
	}
}

const typesDDL = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE types (
	id int PRIMARY KEY, i2 int2, i8min int8, i8max int8, o oid, f4 float4, f8nan float8, f8inf float8,
	nnan numeric, nbig numeric, nscale numeric(10,5), b bool, t text, vc varchar(10), bp char(3), nm name,
	by bytea, u uuid, d date, tm time(6), ttz timetz, ts timestamp(6), tstz timestamptz(6), iv interval,
	j json, jb jsonb, ia int[], ta text[], e mood, ea mood[]
);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO tributary;`

func TestTypesInsertUpdateDelete(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, typesDDL, "CREATE PUBLICATION pub_"+name+" FOR TABLE types")
	s := testSource(t, name, nil)
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)

	testenv.Exec(t, db, `SET TimeZone = 'America/New_York'`,
		`INSERT INTO types VALUES (1, -32768, -9223372036854775808, 9223372036854775807, 4294967295, 0.1, 'NaN', '-Infinity',
			'NaN', '1234567890123456789012345678901234567890.123456789', -0.001, true, '😀 漢字 текст', 'héllo', 'ab', 'nm',
			'\x00ff01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-31', '23:59:59.123456', '12:00:00+02',
			'2024-01-31 23:59:59.123456', '2024-01-31 18:59:59.123456-05', '1 year 2 months 3 days 04:05:06.5',
			'{"b": 1, "a": [1,2]}', '{"b": 1, "a": [1,2]}', '{1,NULL,3}', '{"a b","c,d",NULL}', 'happy', '{sad,happy}')`,
		`INSERT INTO types (id) VALUES (2)`,
		`UPDATE types SET t = 'updated', f4 = 'Infinity' WHERE id = 1`,
		`DELETE FROM types WHERE id = 2`)
	changes := waitChanges(t, rec, streamErr, "types", 4)
	if len(changes) != 4 {
		t.Fatalf("got %d changes, want 4", len(changes))
	}

	tbl := changes[0].Table
	wantCols := []string{"id int4", "i2 int2", "i8min int8", "i8max int8", "o oid", "f4 float4", "f8nan float8", "f8inf float8",
		"nnan numeric", "nbig numeric", "nscale numeric", "b bool", "t text", "vc varchar", "bp bpchar", "nm name",
		"by bytea", "u uuid", "d date", "tm time", "ttz timetz", "ts timestamp", "tstz timestamptz", "iv interval",
		"j json", "jb jsonb", "ia int4[]", "ta text[]", "e mood", "ea mood[]"}
	var gotCols []string
	for _, c := range tbl.Columns {
		gotCols = append(gotCols, c.Name+" "+c.Type)
	}
	if strings.Join(gotCols, ",") != strings.Join(wantCols, ",") {
		t.Errorf("columns:\n got %q\nwant %q", gotCols, wantCols)
	}
	if tbl.Database != "public" || tbl.Name != "types" || len(tbl.Key) != 1 || tbl.Key[0] != 0 {
		t.Errorf("table = %s.%s key %v, want public.types key [0]", tbl.Database, tbl.Name, tbl.Key)
	}

	row1 := []any{int64(1), int64(-32768), int64(math.MinInt64), int64(math.MaxInt64), int64(4294967295), float32(0.1), math.NaN(), math.Inf(-1),
		"NaN", "1234567890123456789012345678901234567890.123456789", "-0.00100", true, "😀 漢字 текст", "héllo", "ab ", "nm",
		[]byte{0, 0xff, 1}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2024-01-31", "23:59:59.123456", "12:00:00+02",
		"2024-01-31 23:59:59.123456", "2024-01-31T23:59:59.123456Z", "P1Y2M3DT4H5M6.5S",
		json.RawMessage(`{"b": 1, "a": [1,2]}`), json.RawMessage(`{"a": [1, 2], "b": 1}`),
		[]any{int64(1), nil, int64(3)}, []any{"a b", "c,d", nil}, "happy", []any{"sad", "happy"}}
	row2 := make([]any, len(row1))
	row2[0] = int64(2)
	row1upd := append([]any(nil), row1...)
	row1upd[12], row1upd[5] = "updated", float32(math.Inf(1))
	keyOnly2 := make([]any, len(row1))
	for i := range keyOnly2 {
		keyOnly2[i] = capture.Absent
	}
	keyOnly2[0] = int64(2)

	want := []struct {
		op            capture.Op
		before, after []any
	}{
		{capture.OpCreate, nil, row1},
		{capture.OpCreate, nil, row2},
		{capture.OpUpdate, nil, row1upd}, // REPLICA IDENTITY DEFAULT, key unchanged: no old row
		{capture.OpDelete, keyOnly2, nil},
	}
	for i, w := range want {
		c := changes[i]
		what := fmt.Sprintf("change %d", i)
		if c.Op != w.op {
			t.Errorf("%s: op %q, want %q", what, c.Op, w.op)
		}
		if (c.Before == nil) != (w.before == nil) || (c.After == nil) != (w.after == nil) {
			t.Errorf("%s: before/after presence %v/%v, want %v/%v", what, c.Before != nil, c.After != nil, w.before != nil, w.after != nil)
			continue
		}
		if w.before != nil {
			compareRow(t, what+" before", tbl.Columns, c.Before, w.before)
		}
		if w.after != nil {
			compareRow(t, what+" after", tbl.Columns, c.After, w.after)
		}
		if c.TxID == "" || c.CommitTime.IsZero() || !strings.Contains(c.EventPosition, ":") {
			t.Errorf("%s: txid %q commit time %v event position %q", what, c.TxID, c.CommitTime, c.EventPosition)
		}
	}
}

func TestUnchangedTOAST(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE toasty (id int PRIMARY KEY, n int, big text)`,
		`ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL`,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE toasty")
	s := testSource(t, name, nil)
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)

	testenv.Exec(t, db, `INSERT INTO toasty SELECT 1, 1, string_agg(md5(random()::text), '') FROM generate_series(1, 3200)`,
		`UPDATE toasty SET n = 2 WHERE id = 1`,
		`ALTER TABLE toasty REPLICA IDENTITY FULL`,
		`UPDATE toasty SET n = 3 WHERE id = 1`)
	var big string
	if err := db.QueryRow(`SELECT big FROM toasty WHERE id = 1`).Scan(&big); err != nil {
		t.Fatal(err)
	}
	if len(big) != 102400 {
		t.Fatalf("big is %d bytes", len(big))
	}
	changes := waitChanges(t, rec, streamErr, "toasty", 3)
	if got := changes[0].After[2]; got != big {
		t.Errorf("insert: big not delivered in full (%d bytes)", len(fmt.Sprint(got)))
	}
	def := changes[1]
	if def.Before != nil || def.After[1] != int64(2) || def.After[2] != capture.Absent {
		t.Errorf("update with DEFAULT identity: before %v, after n=%v big absent=%v; want no before, n=2, big Absent",
			def.Before != nil, def.After[1], def.After[2] == capture.Absent)
	}
	full := changes[2]
	if full.Before == nil || full.Before[1] != int64(2) || full.Before[2] != big {
		t.Errorf("update with FULL identity: before image incomplete")
	}
	if full.After[1] != int64(3) || full.After[2] != big {
		t.Errorf("update with FULL identity: after n=%v, big present=%v; want n=3 and big filled from the old row", full.After[1], full.After[2] == big)
	}
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE c (id int PRIMARY KEY)`, "CREATE PUBLICATION pub_"+name+" FOR TABLE c")
	admin := openPG(t, "postgres")
	s := testSource(t, name, nil)
	start := currentPosition(t, s)
	initial := slotConfirmed(t, admin, s.cfg.Slot)
	if initial != start {
		t.Fatalf("CurrentPosition %s, slot confirmed_flush_lsn %s", start, initial)
	}
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(start), rec)

	// Without Confirm the slot never moves, however much is streamed.
	for i := range 10 {
		testenv.Exec(t, db, fmt.Sprintf(`INSERT INTO c VALUES (%d)`, i))
		time.Sleep(150 * time.Millisecond)
		if got := slotConfirmed(t, admin, s.cfg.Slot); got != initial {
			t.Fatalf("slot moved to %s without Confirm (was %s)", got, initial)
		}
	}
	waitChanges(t, rec, streamErr, "c", 10)
	testenv.Eventually(t, waitFor, "last commit", func() bool {
		_, _, events := rec.snapshot()
		_, ok := events[len(events)-1].(capture.Commit)
		return ok
	})
	_, commits, _ := rec.snapshot()
	time.Sleep(3 * s.cfg.StatusInterval)
	if got := slotConfirmed(t, admin, s.cfg.Slot); got != initial {
		t.Fatalf("slot moved to %s without Confirm (was %s)", got, initial)
	}

	// Confirm a commit in the middle: exactly that position is reported.
	p := commits[len(commits)/2].Position
	s.Confirm(p)
	testenv.Eventually(t, waitFor, "confirmed_flush_lsn = "+p, func() bool { return slotConfirmed(t, admin, s.cfg.Slot) == p })
	s.Confirm(start) // lower: ignored
	time.Sleep(3 * s.cfg.StatusInterval)
	if got := slotConfirmed(t, admin, s.cfg.Slot); got != p {
		t.Errorf("after a lower Confirm the slot is at %s, want %s", got, p)
	}
	if st, err := s.SlotStatus(context.Background()); err != nil || st.ConfirmedFlushLSN != p || st.WALStatus == "" {
		t.Errorf("SlotStatus = %+v, %v", st, err)
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE keyed (id int PRIMARY KEY)`, `CREATE TABLE nokey (v int)`)
	ctx := context.Background()

	run := func(s *Source, from string) error {
		ctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		return s.Stream(ctx, resumeAt(from), &recorder{})
	}
	wantPermanent := func(what string, err error, sentinel error, parts ...string) {
		t.Helper()
		var pe *capture.PermanentError
		if !errors.As(err, &pe) || !errors.Is(err, sentinel) {
			t.Errorf("%s: error %v, want a PermanentError wrapping %v", what, err, sentinel)
			return
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error %q does not say %q", what, err, p)
			}
		}
	}

	// A table without key and with the default identity is refused, and
	// never put into a publication.
	s := testSource(t, name, func(c *Config) { c.User, c.Password = testenv.PGAdminUser, testenv.PGAdminPassword })
	wantPermanent("no key", run(s, ""), ErrPreflight, "public.nokey has no primary key and REPLICA IDENTITY DEFAULT", "reject")
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_publication WHERE pubname = $1`, s.cfg.Publication).Scan(&n); err != nil || n != 0 {
		t.Errorf("publication created despite the refused table (%d, %v)", n, err)
	}

	// Excluded, it is fine; the publication is created FOR TABLE the rest.
	s = testSource(t, name, func(c *Config) {
		c.User, c.Password = testenv.PGAdminUser, testenv.PGAdminPassword
		c.Exclude = []string{"public.nokey"}
	})
	pos := currentPosition(t, s)
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := s.Stream(ctx2, resumeAt(pos), &recorder{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stream with nokey excluded: %v", err)
	}
	var tables string
	if err := db.QueryRow(`SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = $1`, s.cfg.Publication).Scan(&tables); err != nil || tables != "public.keyed" {
		t.Errorf("created publication has %q (%v), want public.keyed", tables, err)
	}

	// The CDC role cannot create a publication on tables it does not own.
	s = testSource(t, name, func(c *Config) { c.Publication = "pub_other"; c.Exclude = []string{"public.nokey"} })
	wantPermanent("publication owner", run(s, ""), ErrPreflight, "ownership", `CREATE PUBLICATION "pub_other" FOR TABLE "public"."keyed"`)

	// Missing publication with create_publication off.
	s = testSource(t, name, func(c *Config) {
		c.Publication = "pub_missing"
		c.CreatePublication = ptr(false)
		c.Exclude = []string{"public.nokey"}
	})
	wantPermanent("no publication", run(s, ""), ErrPreflight, `create it: CREATE PUBLICATION "pub_missing" FOR TABLE "public"."keyed"`)

	// Missing slot with create_slot off.
	s = testSource(t, name, func(c *Config) { c.CreateSlot = ptr(false) })
	// On 17+ the statement makes a failover slot (failover => true).
	wantCreate := "SELECT pg_create_logical_replication_slot('" + s.cfg.Slot + "', 'pgoutput');"
	if pgServer(t).Version != "15" {
		wantCreate = "SELECT pg_create_logical_replication_slot('" + s.cfg.Slot + "', 'pgoutput', failover => true);"
	}
	wantPermanent("no slot", run(s, ""), ErrPreflight, "create_slot is off", wantCreate)

	// Resuming from before the slot's confirmed_flush_lsn.
	s = testSource(t, name, nil) // publication pub_<db> created above
	pos = currentPosition(t, s)
	wantPermanent("from behind", run(s, "0/10"), ErrPositionGone, "0/10", pos)

	// A checkpoint whose slot is gone.
	s = testSource(t, name, nil)
	wantPermanent("slot gone", run(s, pos), ErrSlotGone, "may have been lost", "re-snapshot")
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE tr (id int PRIMARY KEY)`, `CREATE TABLE tr2 (id int PRIMARY KEY)`,
		"CREATE PUBLICATION pub_"+name+" FOR TABLE tr, tr2")
	s := testSource(t, name, nil)
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)
	testenv.Exec(t, db, `INSERT INTO tr VALUES (1)`, `TRUNCATE tr, tr2`)
	changes := waitChanges(t, rec, streamErr, "tr", 2)
	tr2 := waitChanges(t, rec, streamErr, "tr2", 1)
	for _, c := range []*capture.Change{changes[1], tr2[0]} {
		if c.Op != capture.OpTruncate || c.Before != nil || c.After != nil {
			t.Errorf("%s: op %q before %v after %v, want a truncate without images", c.Table.Name, c.Op, c.Before, c.After)
		}
	}
	if changes[1].TxID != tr2[0].TxID || changes[1].EventPosition == tr2[0].EventPosition {
		t.Errorf("truncate changes: %s/%s and %s/%s", changes[1].TxID, changes[1].EventPosition, tr2[0].TxID, tr2[0].EventPosition)
	}
}

func TestIdleAdvance(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE idle (id int PRIMARY KEY)`, "CREATE PUBLICATION pub_"+name+" FOR TABLE idle")
	other, _ := testDB(t)
	admin := openPG(t, "postgres")
	s := testSource(t, name, nil)
	rec := &recorder{onCommit: func(c capture.Commit) { s.Confirm(c.Position) }}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)

	var before string
	if err := admin.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, other, `CREATE TABLE filler (t text)`,
		`INSERT INTO filler SELECT repeat(md5(i::text), 32) FROM generate_series(1, 5000) i`)
	want, _ := pglogrepl.ParseLSN(before)
	testenv.Eventually(t, waitFor, "slot to advance past "+before+" while its tables are idle", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		got, err := pglogrepl.ParseLSN(slotConfirmed(t, admin, s.cfg.Slot))
		return err == nil && got > want
	})
	if changes, _, _ := rec.snapshot(); len(changes) != 0 {
		t.Errorf("%d changes from an idle table", len(changes))
	}
}

// A table with a primary key and REPLICA IDENTITY USING INDEX is keyed by
// the identity index: PostgreSQL logs only its columns in the old row, so a
// delete keyed by the primary key would have no key (and stop the source).
func TestReplicaIdentityIndexKeysTheTable(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, `CREATE TABLE ri (id int PRIMARY KEY, email text NOT NULL UNIQUE, note text)`,
		`ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_email_key`, "CREATE PUBLICATION pub_"+name+" FOR TABLE ri")
	s := testSource(t, name, nil)
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)
	testenv.Exec(t, db, `INSERT INTO ri VALUES (1, 'a@example.com', 'x')`,
		`UPDATE ri SET note = 'y' WHERE id = 1`,
		`UPDATE ri SET email = 'b@example.com' WHERE id = 1`,
		`DELETE FROM ri WHERE id = 1`)
	changes := waitChanges(t, rec, streamErr, "ri", 4)
	for i, c := range changes {
		if got := c.Table.Key; len(got) != 1 || c.Table.Columns[got[0]].Name != "email" {
			t.Fatalf("change %d: key columns %v, want [email] (the replica identity index)", i, got)
		}
		events, err := transform.Build("test", transform.ConnectorPostgres, c, time.Now())
		if err != nil {
			t.Fatalf("change %d (%s): %v", i, c.Op, err)
		}
		if len(events) == 0 {
			t.Fatalf("change %d: no events", i)
		}
	}
	if del := changes[3]; del.Op != capture.OpDelete || del.Before[1] != "b@example.com" {
		t.Errorf("delete: op %s before %v, want the identity's email", del.Op, del.Before)
	}
}
