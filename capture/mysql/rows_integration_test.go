package mysql

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/transform"
)

// edgeDDL and edgeRows add values typesRows does not cover: float and
// double extremes, fractional TIME/DATETIME/TIMESTAMP of other widths, zero
// dates, CHAR with trailing spaces, BINARY with trailing zero bytes, an
// invalid ENUM, JSON null, wide BIT, unsigned DECIMAL, geometry.
const edgeDDL = "CREATE TABLE edge (" +
	"id INT NOT NULL PRIMARY KEY, f FLOAT, dbl DOUBLE, tm3 TIME(3), dtm3 DATETIME(3), ts3 TIMESTAMP(3) NULL," +
	"dz DATE, dtz DATETIME(2), c CHAR(5), bn BINARY(4), e ENUM('p','q'), j JSON, b10 BIT(10)," +
	"du DECIMAL(5,0) UNSIGNED, y YEAR, g POINT, lt VARCHAR(10) CHARACTER SET latin1" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"

var edgeRows = []string{
	"SET SESSION sql_mode = ''",
	"SET time_zone = '+00:00'",
	`INSERT INTO edge VALUES (1, 0.1, 0.30000000000000004, '-01:02:03.456', '2024-02-29 12:00:00.5', '2024-02-29 12:00:00.125',
		'0000-00-00', '0000-00-00 00:00:00.00', 'ab  ', x'01000000', 'q', 'null', b'1000000001', 99999, 0, ST_GeomFromText('POINT(1 2)'), 'plain')`,
	`INSERT INTO edge VALUES (2, 3.4028235e38, 1.7976931348623157e308, '00:00:00.000', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999',
		'2024-00-00', '2024-01-01 00:00:00.01', '', x'00000000', 'invalid', '{"k":"v","n":[1.5,-0,1e3]}', b'0', 0, 1999, NULL, '')`,
	`INSERT INTO edge VALUES (3, 1.17549435e-38, 5e-324, '838:59:59.999', '1000-01-01 00:00:00.000', '1970-01-01 00:00:01.000',
		'1000-01-01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO edge (id, f, dbl) VALUES (4, -1.4e-45, -0.0), (5, 16777217, 9007199254740993), (6, 1.1234567, 1e21)`,
}

// latestAfter applies recorded changes of table to a state by encoded key,
// the way a consumer of the events would.
func latestAfter(t *testing.T, changes []*capture.Change) map[string][]any {
	t.Helper()
	state := map[string][]any{}
	for _, c := range changes {
		evs, err := transform.Build("test", transform.ConnectorMySQL, c, time.Now())
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

// TestReadChunkEqualsBinlog is the contract of Reader: every row it reads
// is, value for value and type for type, what the binlog path produced.
func TestReadChunkEqualsBinlog(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, typesDDL, edgeDDL)
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db, typesRows...)
	testenv.Exec(t, db, edgeRows...)
	waitChanges(t, rec, streamErr, "types", 5)
	waitChanges(t, rec, streamErr, "edge", 6)

	r, err := s.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for _, table := range []string{"types", "edge"} {
		changes := rec.changesFor(table)
		want := latestAfter(t, changes)
		tbl, rows, err := r.ReadChunk(ctx, name, table, nil, 100)
		if err != nil {
			t.Fatalf("ReadChunk %s: %v", table, err)
		}
		binTbl := changes[0].Table
		var gotCols, wantCols []string
		for i := range tbl.Columns {
			gotCols = append(gotCols, tbl.Columns[i].Name+" "+tbl.Columns[i].Type)
			wantCols = append(wantCols, binTbl.Columns[i].Name+" "+binTbl.Columns[i].Type)
		}
		if !reflect.DeepEqual(gotCols, wantCols) || !reflect.DeepEqual(tbl.Key, binTbl.Key) {
			t.Errorf("%s: columns/key\n got %q key %v\nwant %q key %v", table, gotCols, tbl.Key, wantCols, binTbl.Key)
		}
		if len(rows) != len(want) {
			t.Errorf("%s: read %d rows, binlog state has %d", table, len(rows), len(want))
		}
		for _, row := range rows {
			k := rowKey(t, tbl, row)
			w, ok := want[k]
			if !ok {
				t.Errorf("%s: row %s not in the binlog state", table, k)
				continue
			}
			compareRow(t, table+" row "+k, tbl.Columns, row, w)
			// And byte for byte as an event's after image.
			if gotJSON, wantJSON := afterJSON(t, tbl, row), afterJSON(t, tbl, w); gotJSON != wantJSON {
				t.Errorf("%s row %s JSON:\n got %s\nwant %s", table, k, gotJSON, wantJSON)
			}
			_, byKey, err := r.ReadKey(ctx, name, table, []byte(k))
			if err != nil {
				t.Fatalf("ReadKey %s: %v", k, err)
			}
			compareRow(t, table+" ReadKey "+k, tbl.Columns, byKey, w)
		}
	}
}

func afterJSON(t *testing.T, tbl *capture.Table, vals []any) string {
	t.Helper()
	row := make(transform.Row, len(vals))
	for i, v := range vals {
		row[i] = transform.Field{Name: tbl.Columns[i].Name, Value: v}
	}
	b, err := row.AppendJSON(nil)
	if err != nil {
		t.Fatalf("encode row: %v", err)
	}
	return string(b)
}

// readAll reads db.table in chunks of size, checking that every chunk but
// the last is full.
func readAll(t *testing.T, r *Reader, db, table string, size int) (*capture.Table, [][]any, int) {
	t.Helper()
	var all [][]any
	var after []any
	var tbl *capture.Table
	chunks := 0
	for {
		var rows [][]any
		var err error
		tbl, rows, err = r.ReadChunk(context.Background(), db, table, after, size)
		if err != nil {
			t.Fatalf("ReadChunk after %v: %v", after, err)
		}
		chunks++
		all = append(all, rows...)
		if len(rows) < size {
			return tbl, all, chunks
		}
		last := rows[len(rows)-1]
		after = make([]any, len(tbl.Key))
		for j, i := range tbl.Key {
			after[j] = last[i]
		}
	}
}

func TestReadChunkCompositeKeyChunks(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE ck (g INT NOT NULL, s VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (g, s))")
	const n = 2500
	var vals []string
	for i := 0; i < n; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'k%05d', %d)", i%7, i, i))
	}
	testenv.Exec(t, db, "INSERT INTO ck VALUES "+strings.Join(vals, ","))

	r, err := testSource(t, name, nil).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tbl, rows, chunks := readAll(t, r, name, "ck", 1000)
	if chunks != 3 || len(rows) != n {
		t.Fatalf("read %d rows in %d chunks, want %d in 3", len(rows), chunks, n)
	}
	if !reflect.DeepEqual(tbl.Key, []int{0, 1}) {
		t.Fatalf("key = %v, want [0 1]", tbl.Key)
	}
	type key struct {
		g int64
		s string
	}
	seen := map[key]bool{}
	var got []key
	for _, row := range rows {
		k := key{row[0].(int64), row[1].(string)}
		if seen[k] {
			t.Fatalf("row %v read twice", k)
		}
		seen[k] = true
		got = append(got, k)
		if want := fmt.Sprintf("k%05d", row[2].(int64)); k.s != want {
			t.Fatalf("row %v has v=%d", k, row[2])
		}
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool {
		return got[i].g < got[j].g || got[i].g == got[j].g && got[i].s < got[j].s
	}) {
		t.Fatal("rows are not in key order")
	}
}

// TestReadChunkTypedKeys resumes after every single row of a key made of
// types whose comparison needs care (DECIMAL cast, TIMESTAMP in UTC, ENUM
// by number, BINARY, BIGINT UNSIGNED above MaxInt64) and checks the rows
// match one unchunked read.
func TestReadChunkTypedKeys(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db,
		"CREATE TABLE tk (d DECIMAL(30,5) NOT NULL, ts TIMESTAMP(3) NOT NULL DEFAULT '2000-01-01', e ENUM('z','a') NOT NULL, bn BINARY(3) NOT NULL, u BIGINT UNSIGNED NOT NULL, v INT, PRIMARY KEY (d, ts, e, bn, u))",
		"SET time_zone = '+00:00'",
		`INSERT INTO tk VALUES
		 (1234567890123456789012.00001, '2024-01-01 00:00:00.001', 'z', x'00', 18446744073709551615, 1),
		 (1234567890123456789012.00001, '2024-01-01 00:00:00.001', 'z', x'00', 18446744073709551614, 2),
		 (1234567890123456789012.00001, '2024-01-01 00:00:00.001', 'a', x'00', 1, 3),
		 (1234567890123456789012.00001, '2024-01-01 00:00:00.002', 'z', x'ff', 1, 4),
		 (1234567890123456789012.00002, '2024-01-01 00:00:00.000', 'z', x'00', 1, 5),
		 (-1, '2030-01-01 00:00:00', 'a', x'0102', 0, 6),
		 (0.5, '1970-01-01 00:00:01', 'z', x'', 0, 7)`)

	r, err := testSource(t, name, nil).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, whole, _ := readAll(t, r, name, "tk", 100)
	_, single, chunks := readAll(t, r, name, "tk", 1)
	if len(whole) != 7 || chunks != 8 {
		t.Fatalf("read %d rows, %d single-row chunks; want 7 and 8", len(whole), chunks)
	}
	if !reflect.DeepEqual(single, whole) {
		t.Fatalf("chunked read differs:\n got %v\nwant %v", single, whole)
	}
	var order []int64
	for _, row := range whole {
		order = append(order, row[5].(int64))
	}
	if want := []int64{6, 7, 2, 1, 3, 4, 5}; !reflect.DeepEqual(order, want) {
		t.Errorf("key order = %v, want %v (ENUM by number, BIGINT UNSIGNED exact)", order, want)
	}
	_, missing, err := r.ReadKey(context.Background(), name, "tk", []byte(`{"d":"9.00000","ts":"2024-01-01T00:00:00.001Z","e":"z","bn":"AAAA","u":1}`))
	if err != nil || missing != nil {
		t.Errorf("ReadKey of a missing key = %v, %v; want nil row", missing, err)
	}
}

func TestReadChunkKeylessNeedsKeyColumns(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE nk (a INT NOT NULL, b INT)", "INSERT INTO nk VALUES (2, 20), (1, 10)")
	r, err := testSource(t, name, nil).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, err := r.ReadChunk(context.Background(), name, "nk", nil, 10); err == nil || !strings.Contains(err.Error(), "no primary key") {
		t.Fatalf("keyless table: err = %v, want a no primary key error", err)
	}
	r2, err := testSource(t, name, func(c *Config) { c.KeyColumns = map[string][]string{name + ".nk": {"a"}} }).NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	_, rows, err := r2.ReadChunk(context.Background(), name, "nk", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]any{{int64(1), int64(10)}, {int64(2), int64(20)}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
}

func TestParseLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"enum('a','b','c')", []string{"a", "b", "c"}},
		{"set('it''s','x,')", []string{"it's", "x,"}},
		{"enum('')", []string{""}},
	} {
		got, err := parseLabels(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLabels(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		// The type name written for the labels is the COLUMN_TYPE again.
		if typ := labelledType(tc.in[:strings.IndexByte(tc.in, '(')], tc.want); typ != tc.in {
			t.Errorf("labelledType(%q) = %q, want %q", tc.want, typ, tc.in)
		}
	}
}
