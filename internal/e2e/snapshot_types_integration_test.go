package e2e

// A row read by an initial snapshot ("r") and the same row changed later
// ("u") must encode every type identically: the snapshot reads with SELECTs,
// the change comes from the binlog or the WAL, and a consumer cannot tell
// them apart. The tests run with every clock that could leak into a value
// at a non-UTC half-hour offset (+05:30): the writer's session, the
// database's default for new sessions (so the daemon's own snapshot session
// starts there unless it sets its own zone), and the daemon's TZ.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

const (
	halfHourOffset = "+05:30"       // MariaDB has no named zones loaded
	halfHourZone   = "Asia/Kolkata" // the same offset, no DST
)

// mysqlSnapTypesDDL and mysqlSnapEdgeDDL are capture/mysql's types and edge
// tables (every type its tests cover) plus touch, the column the update
// changes.
var mysqlSnapTypesDDL = []string{
	"CREATE TABLE %[1]s.types (" +
		"id INT NOT NULL PRIMARY KEY," +
		"ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED," +
		"i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED," +
		"d DECIMAL(10,2), dbig DECIMAL(65,30), f FLOAT, dbl DOUBLE," +
		"dt DATE, tm TIME, tm6 TIME(6), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, y YEAR," +
		"c CHAR(10), vc VARCHAR(100), tx TEXT, mtx MEDIUMTEXT," +
		"bn BINARY(4), vb VARBINARY(10), bl BLOB," +
		"j JSON, e ENUM('a','b','c'), st SET('x','y','z'), b1 BIT(1), b64 BIT(64), touch INT" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE %[1]s.edge (" +
		"id INT NOT NULL PRIMARY KEY, f FLOAT, dbl DOUBLE, tm3 TIME(3), dtm3 DATETIME(3), ts3 TIMESTAMP(3) NULL," +
		"dz DATE, dtz DATETIME(2), c CHAR(5), bn BINARY(4), e ENUM('p','q'), j JSON, b10 BIT(10)," +
		"du DECIMAL(5,0) UNSIGNED, y YEAR, g POINT, lt VARCHAR(10) CHARACTER SET latin1, touch INT" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
}

// mysqlSnapRows are capture/mysql's typesRows and edgeRows, written at
// +05:30: TIMESTAMPs at the bottom of the range are moved by the offset so
// that they stay in range, and a zero TIMESTAMP is added.
var mysqlSnapRows = []string{
	`INSERT INTO %[1]s.types VALUES (1,
		127, 255, 32767, 65535, 8388607, 16777215,
		2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
		12345678.90, 12345678901234567890123456789012345.123456789012345678901234567890, 1.5, 2.25,
		'2024-01-31', '838:59:59', '-838:59:59.000000', '2024-01-31 23:59:59', '2024-01-31 23:59:59.123456',
		'2024-01-31 23:59:59', '2038-01-19 03:14:07.999999', 2155,
		'héllo', '😀 漢字 текст', 'long 🚀 text', 'm',
		x'01020000', x'00ff', x'deadbeef',
		'{"a": [1, 2, {"b": null}]}', 'c', 'x,z', b'1', b'1111111111111111111111111111111111111111111111111111111111111111', NULL)`,
	`INSERT INTO %[1]s.types VALUES (2,
		-128, 0, -32768, 0, -8388608, 0,
		-2147483648, 0, -9223372036854775808, 0,
		-12345678.90, -0.000000000000000000000000000001, -1.5, -2.25,
		'1000-01-01', '-00:00:01', '-00:00:00.000001', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000',
		'1970-01-01 05:30:01', '1970-01-01 05:30:01.000001', 1901,
		'', '', '', '',
		x'', x'', x'',
		'[]', 'a', '', b'0', b'0', NULL)`,
	`INSERT INTO %[1]s.types (id) VALUES (3)`,
	`INSERT INTO %[1]s.edge VALUES (1, 0.1, 0.30000000000000004, '-01:02:03.456', '2024-02-29 12:00:00.5', '2024-02-29 12:00:00.125',
		'0000-00-00', '0000-00-00 00:00:00.00', 'ab  ', x'01000000', 'q', 'null', b'1000000001', 99999, 0, ST_GeomFromText('POINT(1 2)'), 'plain', NULL)`,
	`INSERT INTO %[1]s.edge VALUES (2, 3.4028235e38, 1.7976931348623157e308, '00:00:00.000', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999',
		'2024-00-00', '2024-01-01 00:00:00.01', '', x'00000000', 'invalid', '{"k":"v","n":[1.5,-0,1e3]}', b'0', 0, 1999, NULL, '', NULL)`,
	`INSERT INTO %[1]s.edge VALUES (3, 1.17549435e-38, 5e-324, '838:59:59.999', '1000-01-01 00:00:00.000', '1970-01-01 05:30:01.000',
		'1000-01-01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO %[1]s.edge (id, f, dbl) VALUES (4, -1.4e-45, -0.0), (5, 16777217, 9007199254740993), (6, 1.1234567, 1e21)`,
	`INSERT INTO %[1]s.edge (id, ts3, dtm3) VALUES (7, '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000')`,
}

// mysqlSnapWant are values whose encoding does not depend on the path but
// would show a zone leaking in: TIMESTAMPs written at +05:30 are UTC
// instants, DATETIMEs stay the wall clock written.
var mysqlSnapWant = map[string]string{
	`types/{"id":1}/ts`:  `"2024-01-31T18:29:59Z"`,
	`types/{"id":1}/dtm`: `"2024-01-31 23:59:59"`,
	`types/{"id":2}/ts6`: `"1970-01-01T00:00:01.000001Z"`,
	`edge/{"id":2}/ts3`:  `"2038-01-18T21:44:07.999Z"`,
	`edge/{"id":7}/ts3`:  `"0000-00-00 00:00:00.000"`,
}

// Snapshot rows of every MariaDB type against the same rows from the binlog
// after an update, with the server's global time_zone, the writer's session
// and the daemon's TZ all at +05:30.
func TestMySQLSnapshotEncodesTypesLikeBinlogAtHalfHourOffset(t *testing.T) {
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := newSetup(t)
	db, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + s.Database)
		db.Close()
	})
	q := func(stmt string) string { return fmt.Sprintf(stmt, s.Database) }
	testenv.Exec(t, db, "CREATE DATABASE "+s.Database)
	for _, ddl := range mysqlSnapTypesDDL {
		testenv.Exec(t, db, q(ddl))
	}

	// The global time_zone is the default of every new session, the
	// daemon's snapshot and binlog sessions included. It is server-wide:
	// this is safe only because integration packages run one at a time
	// (make test: -p 1) and this package's tests do not run in parallel.
	var prevZone string
	if err := db.QueryRow("SELECT @@GLOBAL.time_zone").Scan(&prevZone); err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, db, "SET GLOBAL time_zone = '"+halfHourOffset+"'")
	t.Cleanup(func() { db.Exec("SET GLOBAL time_zone = '" + prevZone + "'") })
	checkNewSessionZone(t, fmt.Sprintf("%s:%s@tcp(%s)/", testenv.MySQLAdminUser, testenv.MySQLAdminPassword, testenv.MySQLAddr()),
		"mysql", "SELECT @@SESSION.time_zone", halfHourOffset)

	// One writer session for inserts and updates: at +05:30, and
	// non-strict for the zero dates and the invalid ENUM of the edge rows.
	ctx := context.Background()
	w, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	execConn(t, w, "SET time_zone = '"+halfHourOffset+"'", "SET SESSION sql_mode = ''")
	for _, row := range mysqlSnapRows {
		execConn(t, w, q(row))
	}

	tables := []string{"types", "edge"}
	topics := []string{s.topic("types"), s.topic("edge")}
	createTopics(t, 1, topics...)
	c := collect(t, 1, topics...)
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    heartbeat: 1s
    read_timeout: 5s
    snapshot: {mode: initial}
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database))
	// startDaemon passes the test's environment on.
	t.Setenv("TZ", halfHourZone)
	d := startDaemon(t, "run", "-c", cfg)

	checkReadEqualsUpdate(t, d, c, 10 /* 3 types rows, 7 edge rows */, func() {
		for _, tbl := range tables {
			execConn(t, w, q("UPDATE %s."+tbl+" SET touch = 1"))
		}
	}, mysqlSnapWant)
	d.stop(t)
}

// pgSnapTypesDDL is capture/postgres's types table (every type its tests
// cover) plus a domain, a 2-D array, timestamptz written without an
// offset (alone, in an array, infinite), numeric infinities, a type
// encoded by its text fallback, a TOASTed text, and touch.
const pgSnapTypesDDL = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE types (
	id int PRIMARY KEY, i2 int2, i8min int8, i8max int8, o oid, f4 float4, f8nan float8, f8inf float8,
	nnan numeric, nbig numeric, nscale numeric(10,5), b bool, t text, vc varchar(10), bp char(3), nm name,
	by bytea, u uuid, d date, tm time(6), ttz timetz, ts timestamp(6), tstz timestamptz(6), iv interval,
	j json, jb jsonb, ia int[], ta text[], e mood, ea mood[],
	dom posint, ia2 int[][], tstzl timestamptz, tza timestamptz[], tsinf timestamptz, ninf numeric, pt point,
	big text, touch int
);
ALTER TABLE types ALTER big SET STORAGE EXTERNAL;
ALTER TABLE types REPLICA IDENTITY FULL;`

var pgSnapRows = []string{
	`INSERT INTO types VALUES (1, -32768, -9223372036854775808, 9223372036854775807, 4294967295, 0.1, 'NaN', '-Infinity',
		'NaN', '1234567890123456789012345678901234567890.123456789', -0.001, true, '😀 漢字 текст', 'héllo', 'ab', 'nm',
		'\x00ff01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-31', '23:59:59.123456', '12:00:00+02',
		'2024-01-31 23:59:59.123456', '2024-01-31 18:59:59.123456-05', '1 year 2 months 3 days 04:05:06.5',
		'{"b": 1, "a": [1,2]}', '{"b": 1, "a": [1,2]}', '{1,NULL,3}', '{"a b","c,d",NULL}', 'happy', '{sad,happy}',
		7, '{{1,2},{3,NULL}}', '2024-01-31 23:59:59.5', '{"2024-01-31 23:59:59",NULL,"1999-12-31 12:00:00-08"}',
		'infinity', 'Infinity', '(1.5,-2)', repeat('toast ', 2000), NULL)`,
	`INSERT INTO types (id) VALUES (2)`,
	`INSERT INTO types VALUES (3, 32767, 0, -1, 0, '-Infinity', 'Infinity', 1e-300,
		'-Infinity', '0', 99999.99999, false, '', '', '', '',
		'\x', '00000000-0000-0000-0000-000000000000', '0001-01-01 BC', '00:00:00', '00:00:00-05:30',
		'0001-01-01 00:00:00', '1970-01-01 05:30:00', '-1 days -00:00:00.000001',
		'[]', '{}', '{}', '{}', 'sad', '{}',
		2147483647, '{}', '2000-02-29 00:00:00', '{}', '-infinity', '-Infinity', '(0,0)', '', NULL)`,
}

// pgSnapWant: timestamptz written at Asia/Kolkata without an offset is the
// UTC instant; timestamp stays the wall clock written.
var pgSnapWant = map[string]string{
	`types/{"id":1}/tstzl`: `"2024-01-31T18:29:59.5Z"`,
	`types/{"id":1}/tza`:   `["2024-01-31T18:29:59Z",null,"1999-12-31T20:00:00Z"]`,
	`types/{"id":1}/ts`:    `"2024-01-31 23:59:59.123456"`,
	`types/{"id":3}/tstz`:  `"1970-01-01T00:00:00Z"`,
}

// Snapshot rows of every PostgreSQL type against the same rows from the WAL
// after an update (REPLICA IDENTITY FULL, so unchanged TOASTed values are
// in the after image), with the database's default timezone, the writer's
// session and the daemon's TZ all at Asia/Kolkata.
func TestPostgresSnapshotEncodesTypesLikeWALAtHalfHourOffset(t *testing.T) {
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := &pgSetup{setup: newSetup(t)}
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	// Per database, so nothing outside this test is affected: every new
	// session on it, the daemon's snapshot readers included, starts at
	// +05:30 unless it sets its own TimeZone.
	testenv.Exec(t, admin, "CREATE DATABASE "+s.Database,
		"ALTER DATABASE "+s.Database+" SET timezone TO '"+halfHourZone+"'")
	t.Cleanup(func() {
		admin.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", s.slot())
		admin.Exec("DROP DATABASE IF EXISTS " + s.Database + " WITH (FORCE)")
		admin.Close()
	})
	checkNewSessionZone(t, testenv.PGURL(s.Database), "pgx", "SHOW timezone", halfHourZone)
	if s.db, err = sql.Open("pgx", testenv.PGURL(s.Database)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	testenv.Exec(t, s.db, pgSnapTypesDDL,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION "+s.publication()+" FOR TABLE types")

	ctx := context.Background()
	w, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	execConn(t, w, "SET timezone = '"+halfHourZone+"'")
	execConn(t, w, pgSnapRows...)

	topic := s.pgTopic("types")
	createTopics(t, 1, topic)
	c := collect(t, 1, topic)
	cfg := s.setup.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    kind: postgres
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.*"]
    heartbeat: 1s
    status_interval: 200ms
    snapshot: {mode: initial}
`, s.Source, testenv.PGAddr(), testenv.PGCDCUser, s.Database, s.slot(), s.publication()))
	t.Setenv("TZ", halfHourZone) // startDaemon passes the test's environment on
	d := startDaemon(t, "run", "-c", cfg)

	checkReadEqualsUpdate(t, d, c, len(pgSnapRows), func() {
		execConn(t, w, "UPDATE types SET touch = 1")
	}, pgSnapWant)
	d.stop(t)
}

// checkNewSessionZone fails unless a new session on dsn starts in zone.
func checkNewSessionZone(t *testing.T, dsn, driver, query, zone string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.QueryRow(query).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != zone {
		t.Fatalf("a new session starts in time zone %q, want %q", got, zone)
	}
}

func execConn(t *testing.T, conn *sql.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("exec %q: %v", strings.TrimSpace(s), err)
		}
	}
}

// snapEvent is the part of an event these tests compare, with each row
// image's fields as raw JSON in column order.
type snapEvent struct {
	op, row  string // row: "<table>/<key JSON>"
	snapshot bool
	absent   bool
	names    []string
	after    map[string]json.RawMessage
}

func parseSnapEvent(t *testing.T, value []byte) snapEvent {
	t.Helper()
	var ev struct {
		Op     string          `json:"op"`
		Key    json.RawMessage `json:"key"`
		After  json.RawMessage `json:"after"`
		Absent json.RawMessage `json:"absent"`
		Source struct {
			Table    string `json:"table"`
			Snapshot bool   `json:"snapshot"`
		} `json:"source"`
	}
	if err := json.Unmarshal(value, &ev); err != nil {
		t.Fatalf("decode event %s: %v", value, err)
	}
	out := snapEvent{op: ev.Op, row: ev.Source.Table + "/" + string(ev.Key), snapshot: ev.Source.Snapshot,
		absent: len(ev.Absent) > 0, after: map[string]json.RawMessage{}}
	// Walk the object to keep the column order and each value's bytes.
	dec := json.NewDecoder(bytes.NewReader(ev.After))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("event %s: after is not an object", value)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("event %s: %v", value, err)
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("event %s: column %s: %v", value, name, err)
		}
		out.names = append(out.names, name)
		out.after[name] = raw
	}
	return out
}

// checkReadEqualsUpdate waits for the snapshot's r events of rows rows
// (failing at once if the daemon d exits), runs update (which must set
// touch = 1 on every row and change nothing else), waits for the u events,
// and compares each row's r and u after images field by field, byte for
// byte, touch aside. want holds values both must have, by
// "<table>/<key>/<column>".
func checkReadEqualsUpdate(t *testing.T, d *daemon, c *collector, rows int, update func(), want map[string]string) {
	t.Helper()
	byOp := func(op string) map[string]snapEvent {
		select {
		case <-d.waited:
			t.Fatalf("tributary exited: %v\n%s", d.err, tail(d.logs.String(), 3000))
		default:
		}
		_, errs := c.snapshot()
		if len(errs) > 0 {
			t.Fatalf("consuming: %v", errs)
		}
		out := map[string]snapEvent{}
		for _, v := range c.raw() {
			ev := parseSnapEvent(t, v)
			if _, seen := out[ev.row]; ev.op == op && !seen { // at-least-once: the first copy
				out[ev.row] = ev
			}
		}
		return out
	}
	var reads, updates map[string]snapEvent
	testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("snapshot events of %d rows", rows), func() bool {
		reads = byOp("r")
		return len(reads) >= rows
	})
	update()
	testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("update events of %d rows", rows), func() bool {
		updates = byOp("u")
		return len(updates) >= rows
	})
	if len(reads) != rows || len(updates) != rows {
		t.Fatalf("%d rows read and %d updated, want %d", len(reads), len(updates), rows)
	}
	differ := 0
	for row, r := range reads {
		u, ok := updates[row]
		if !ok {
			t.Errorf("%s: read by the snapshot, but no update event", row)
			continue
		}
		if !r.snapshot || u.snapshot {
			t.Errorf("%s: source.snapshot is %v for r and %v for u, want true and false", row, r.snapshot, u.snapshot)
		}
		if r.absent || u.absent {
			t.Errorf("%s: a column is absent (r: %v, u: %v); every column must be in both images", row, r.absent, u.absent)
		}
		if strings.Join(r.names, ",") != strings.Join(u.names, ",") {
			t.Errorf("%s: columns differ:\n r: %v\n u: %v", row, r.names, u.names)
			continue
		}
		if string(r.after["touch"]) != "null" || string(u.after["touch"]) != "1" {
			t.Errorf("%s: touch is %s in r and %s in u, want null and 1", row, r.after["touch"], u.after["touch"])
		}
		for _, col := range r.names {
			if col != "touch" && !bytes.Equal(r.after[col], u.after[col]) {
				differ++
				t.Errorf("%s column %s:\n snapshot r: %s\n   stream u: %s", row, col, r.after[col], u.after[col])
			}
		}
	}
	for path, w := range want {
		row, col := path[:strings.LastIndexByte(path, '/')], path[strings.LastIndexByte(path, '/')+1:]
		if got := string(reads[row].after[col]); got != w {
			t.Errorf("%s column %s: the snapshot's r gives %s, want %s", row, col, got, w)
		}
		if got := string(updates[row].after[col]); got != w {
			t.Errorf("%s column %s: the stream's u gives %s, want %s", row, col, got, w)
		}
	}
	if differ == 0 && !t.Failed() {
		t.Logf("%d rows: every column of the snapshot's r equals the stream's u", rows)
	}
}
