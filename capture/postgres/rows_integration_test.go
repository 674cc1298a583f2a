package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/transform"
)

// typesRows fill the types table (typesDDL) with the values of
// TestTypesInsertUpdateDelete, NULLs, and edge values, written in another
// time zone than UTC.
var typesRows = []string{
	`SET TimeZone = 'America/New_York'`,
	`INSERT INTO types VALUES (1, -32768, -9223372036854775808, 9223372036854775807, 4294967295, 0.1, 'NaN', '-Infinity',
		'NaN', '1234567890123456789012345678901234567890.123456789', -0.001, true, '😀 漢字 текст', 'héllo', 'ab', 'nm',
		'\x00ff01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-31', '23:59:59.123456', '12:00:00+02',
		'2024-01-31 23:59:59.123456', '2024-01-31 18:59:59.123456-05', '1 year 2 months 3 days 04:05:06.5',
		'{"b": 1, "a": [1,2]}', '{"b": 1, "a": [1,2]}', '{1,NULL,3}', '{"a b","c,d",NULL}', 'happy', '{sad,happy}')`,
	`INSERT INTO types (id) VALUES (2)`,
	`INSERT INTO types VALUES (3, 32767, 0, -1, 0, 3.4028235e38, 'Infinity', 1.7976931348623157e308,
		'Infinity', '0', 12345.6789, false, '', '', '', '',
		'\x', '00000000-0000-0000-0000-000000000000', 'infinity', '00:00:00', '00:00:00-12:30',
		'-infinity', 'infinity', '-1 day -00:00:00.000001',
		'null', '{"k": "v\"q", "n": [1.5, -0, 1e3]}', '{{1,2},{3,4}}', '{"\\\\","\"",NULL,"NULL",""}', 'sad', '{}')`,
	`INSERT INTO types (id, f4, f8nan, tstz, ts) VALUES (4, 1.17549435e-38, 5e-324, '0001-01-01 00:00:00+00', '1999-12-31 23:59:59')`,
	`INSERT INTO types (id, f4, f8nan, t) SELECT g, g / 7.0, g / 3.0, repeat('x', g) FROM generate_series(5, 23) g`,
	`UPDATE types SET t = 'updated', f4 = 'Infinity' WHERE id = 1`,
	`DELETE FROM types WHERE id = 2`,
}

// latestAfter applies recorded changes to a state by encoded key, the way a
// consumer of the events would.
func latestAfter(t *testing.T, changes []*capture.Change) map[string][]any {
	t.Helper()
	state := map[string][]any{}
	for _, c := range changes {
		evs, err := transform.Build("test", transform.ConnectorPostgres, c, c.CommitTime)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		for _, ev := range evs {
			k := string(transform.EncodeKey(&ev))
			if ev.After == nil {
				delete(state, k)
				continue
			}
			vals := make([]any, len(ev.After))
			for i, f := range ev.After {
				vals[i] = f.Value
			}
			state[k] = vals
		}
	}
	return state
}

func rowKey(t *testing.T, tbl *capture.Table, row []any) string {
	t.Helper()
	key := make(transform.Row, len(tbl.Key))
	for j, i := range tbl.Key {
		key[j] = transform.Field{Name: tbl.Columns[i].Name, Value: row[i]}
	}
	b, err := key.AppendJSON(nil)
	if err != nil {
		t.Fatalf("encode key: %v", err)
	}
	return string(b)
}

// readAll reads a table with ReadChunk in chunks of limit rows.
func readAll(t *testing.T, r *Reader, schema, table string, limit int) (*capture.Table, [][]any) {
	t.Helper()
	var all [][]any
	var after []any
	var tbl *capture.Table
	for {
		tb, rows, err := r.ReadChunk(context.Background(), schema, table, after, limit)
		if err != nil {
			t.Fatalf("ReadChunk %s.%s after %v: %v", schema, table, after, err)
		}
		tbl = tb
		all = append(all, rows...)
		if len(rows) < limit {
			return tbl, all
		}
		last := rows[len(rows)-1]
		after = nil
		for _, i := range tbl.Key {
			after = append(after, last[i])
		}
	}
}

// equalValue is reflect.DeepEqual, with NaN equal to NaN.
func equalValue(a, b any) bool { return reflect.DeepEqual(a, b) || equalNaN(a, b) }

// checkAgainstStream compares every row read with the stream's After image
// of the same key, and the keys read with the stream's.
func checkAgainstStream(t *testing.T, r *Reader, rec *recorder, streamTbl *capture.Table, schema, table string, limit int) {
	t.Helper()
	tbl, rows := readAll(t, r, schema, table, limit)
	if tbl.Database != streamTbl.Database || tbl.Name != streamTbl.Name || !slices.Equal(tbl.Columns, streamTbl.Columns) || !slices.Equal(tbl.Key, streamTbl.Key) {
		t.Fatalf("table read:\n %+v\nstream:\n %+v", *tbl, *streamTbl)
	}
	state := latestAfter(t, rec.changesFor(table))
	t.Logf("%s (chunks of %d): %d rows read, %d in the stream", table, limit, len(rows), len(state))
	if len(rows) != len(state) {
		t.Errorf("%s: read %d rows, the stream left %d", table, len(rows), len(state))
	}
	for _, row := range rows {
		k := rowKey(t, tbl, row)
		want, ok := state[k]
		if !ok {
			t.Errorf("%s: row %s read but not in the stream", table, k)
			continue
		}
		for i := range want {
			if !equalValue(row[i], want[i]) {
				t.Errorf("%s row %s column %s (%s): read %#v (%T), stream %#v (%T)", table, k, tbl.Columns[i].Name, tbl.Columns[i].Type, row[i], row[i], want[i], want[i])
			}
		}
		// ReadKey by the event key finds the same row.
		_, byKey, err := r.ReadKey(context.Background(), schema, table, []byte(k))
		if err != nil {
			t.Fatalf("ReadKey %s: %v", k, err)
		}
		for i := range row {
			if byKey == nil || !equalValue(byKey[i], row[i]) {
				t.Errorf("ReadKey %s: got %v, want %v", k, byKey, row)
				break
			}
		}
	}
}

// TestReadChunkEqualsStream is the contract of Reader: every row it reads
// is, value for value and type for type, what the pgoutput path produced.
func TestReadChunkEqualsStream(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, typesDDL,
		`CREATE TABLE multi (tenant text, at timestamptz, seq numeric, b bytea, ok bool, f float8, v text, PRIMARY KEY (tenant, at, seq, b, ok, f))`,
		`CREATE TABLE "Odd Name" ("Id" int PRIMARY KEY, "we""ird" text)`,
		`CREATE TABLE nokey (a int NOT NULL, b text)`, `ALTER TABLE nokey REPLICA IDENTITY FULL`,
		`CREATE TABLE skipped (id int PRIMARY KEY)`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO tributary`,
		"CREATE PUBLICATION pub_"+name+` FOR TABLE types, multi, "Odd Name", nokey`)
	s := testSource(t, name, func(c *Config) {
		c.KeyColumns = map[string][]string{"public.nokey": {"a"}}
	})
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)

	testenv.Exec(t, db, typesRows...)
	testenv.Exec(t, db,
		`INSERT INTO multi SELECT 't' || (g % 3), '2024-01-01 00:00:00+00'::timestamptz + g * interval '1.000001 second', g / 4.0,
			decode(lpad(to_hex(g % 5), 2, '0'), 'hex'), g % 2 = 0, CASE WHEN g = 7 THEN 'NaN'::float8 WHEN g = 8 THEN '-Infinity' ELSE g / 3.0 END, 'v' || g
		FROM generate_series(1, 40) g`,
		`INSERT INTO "Odd Name" VALUES (1, 'a'), (2, NULL), (3, 'c')`,
		`INSERT INTO nokey SELECT g, 'b' || g FROM generate_series(1, 7) g`,
		`INSERT INTO skipped VALUES (1)`)
	waitChanges(t, rec, streamErr, "types", 25) // 23 inserts, 1 update, 1 delete
	waitChanges(t, rec, streamErr, "multi", 40)
	waitChanges(t, rec, streamErr, "Odd Name", 3)
	waitChanges(t, rec, streamErr, "nokey", 7)

	r, err := s.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	tables, err := r.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"public", "Odd Name"}, {"public", "multi"}, {"public", "nokey"}, {"public", "types"}}
	if fmt.Sprint(tables) != fmt.Sprint(want) {
		t.Errorf("Tables = %q, want %q (the publication's)", tables, want)
	}
	if n, err := r.ApproxRows(context.Background(), "public", "types"); err != nil || n < 0 {
		t.Errorf("ApproxRows = %d, %v", n, err)
	}

	for _, tc := range []struct {
		table string
		limit int
	}{{"types", 4}, {"types", 1000}, {"multi", 3}, {"multi", 7}, {"Odd Name", 1}, {"nokey", 2}} {
		changes := rec.changesFor(tc.table)
		checkAgainstStream(t, r, rec, changes[0].Table, "public", tc.table, tc.limit)
	}

	// A key that is not there.
	_, row, err := r.ReadKey(context.Background(), "public", "types", []byte(`{"id":2}`))
	if err != nil || row != nil {
		t.Errorf("ReadKey of a deleted row = %v, %v; want nil, nil", row, err)
	}
	if _, _, err := r.ReadKey(context.Background(), "public", "types", []byte(`{"nope":2}`)); err == nil {
		t.Error("ReadKey without the key column: no error")
	}
	if _, _, err := r.ReadChunk(context.Background(), "public", "missing", nil, 10); err == nil {
		t.Error("ReadChunk of a missing table: no error")
	}
}
