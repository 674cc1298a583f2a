package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Debezium compatibility, checked against Debezium itself (issue 8): the
// same row changes on a table of every mapped type are captured by
// Tributary with `format: debezium` and by Debezium 3.2's own connector
// (MariaDB, PostgreSQL) with the settings docs/debezium.md pins, each from
// the same position onto its own topic. The two topics must carry the same
// messages: equal keys, tombstones at the same places, equal op, before and
// after field by field, and the source fields the docs call "same"; the
// only differences allowed are those docs/debezium.md lists (source
// version, timestamps, thread/query, PostgreSQL lsn/sequence; the envelope's
// processing timestamps).

// compatMariaDBTypes has a column of every MySQL/MariaDB type
// docs/debezium.md maps.
const compatMariaDBTypes = `CREATE TABLE %s.types (
	id INT NOT NULL PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	d DECIMAL(10,2), dbig DECIMAL(65,30), nm NUMERIC(5,0), f FLOAT, dbl DOUBLE,
	bo BOOLEAN, bit1 BIT(1), bit10 BIT(10), b64 BIT(64),
	y YEAR, dt DATE, dtz DATE, tm0 TIME, tm6 TIME(6), dtm0 DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), dtmz DATETIME,
	ts0 TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
	c CHAR(5), vc VARCHAR(100), tx TEXT, bn BINARY(4), vb VARBINARY(10), bl BLOB,
	j JSON, e ENUM('a','b','c'), st SET('x','y','z'), g GEOMETRY, pt POINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// compatMariaDBChanges are the changes both capture: 10 messages (a key
// change is delete, tombstone, create; a delete is followed by a tombstone).
var compatMariaDBChanges = []string{
	// zero dates need a lax sql_mode; one multi-statement keeps the session
	`SET SESSION sql_mode = ''; INSERT INTO %[1]s.types VALUES (1,
		-128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
		12345678.90, -0.000000000000000000000000000001, 99999, 1.5, 0.1,
		TRUE, b'1', b'1010100101', b'1111111111111111111111111111111111111111111111111111111111111111',
		2155, '2024-02-29', '0000-00-00', '-838:59:59', '-838:59:59.000001', '1000-01-01 00:00:00',
		'2024-01-31 23:59:59.123', '2024-01-31 23:59:59.123456', '0000-00-00 00:00:00',
		'1970-01-01 00:00:01', '2038-01-19 03:14:07.999999',
		'ab', 'héllo 😀 漢字', '', x'0001', x'00ff', x'deadbeef',
		'{"a": [1, {"b": null}]}', 'c', 'x,z', ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326))`,
	`INSERT INTO %[1]s.types (id) VALUES (2)`,
	`UPDATE %[1]s.types SET vc = NULL, tx = 'now set', f = -2.5, dbl = 1e300, st = '', e = 'a', bit1 = b'0', bo = FALSE,
		ts0 = '2024-07-01 12:00:00', tm6 = '838:59:59', dtm6 = '1969-12-31 23:59:59.999999', biu = 9223372036854775808 WHERE id = 1`,
	`UPDATE %[1]s.types SET id = 3 WHERE id = 2`,
	`DELETE FROM %[1]s.types WHERE id = 1`,
	`DELETE FROM %[1]s.types WHERE id = 3`,
}

// compatPostgresTypes is capture/postgres's types table (its DDL and rows)
// with REPLICA IDENTITY FULL, so updates and deletes carry the whole old
// row and every type is compared in before too.
const compatPostgresTypes = `
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE types (
	id int PRIMARY KEY, i2 int2, i4 int4, i8min int8, i8max int8, o oid, f4 float4, f8 float8, f8nan float8, f8inf float8,
	nnan numeric, ninf numeric, nbig numeric, nscale numeric(10,5), b bool, t text, vc varchar(10), bp char(3), nm name,
	by bytea, u uuid, d date, tm time(6), ttz timetz, ts timestamp(6), tstz timestamptz(6), iv interval,
	j json, jb jsonb, ia int[], ta text[], e mood, ea mood[]
);
ALTER TABLE types REPLICA IDENTITY FULL;
CREATE TABLE marker (id int PRIMARY KEY, note text);`

var compatPostgresChanges = []string{
	`SET TimeZone = 'America/New_York'; INSERT INTO types VALUES (1, -32768, -2147483648, -9223372036854775808, 9223372036854775807,
		4294967295, 0.1, 2.5e-300, 'NaN', '-Infinity',
		'NaN', 'Infinity', '1234567890123456789012345678901234567890.123456789', -0.001, true, '😀 漢字 текст', 'héllo', 'ab', 'nm',
		'\x00ff01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-01-31', '23:59:59.123456', '12:00:00+02',
		'2024-01-31 23:59:59.123456', '2024-01-31 18:59:59.123456-05', '1 year 2 months 3 days 04:05:06.5',
		'{"b": 1, "a": [1,2]}', '{"b": 1, "a": [1,2]}', '{1,NULL,3}', '{"a b","c,d",NULL}', 'happy', '{sad,happy}')`,
	`INSERT INTO types (id) VALUES (2)`,
	`UPDATE types SET t = 'updated', f4 = 'Infinity', b = false, ninf = '-Infinity', nscale = 12345.6789, iv = '-1 day -00:00:01',
		ts = '1969-12-31 23:59:59.999999', d = '1900-01-01' WHERE id = 1`,
	`UPDATE types SET id = 3 WHERE id = 2`,
	`DELETE FROM types WHERE id = 1`,
	`DELETE FROM types WHERE id = 3`,
}

const compatMessages = 10 // c, c, u, d+tombstone+c, d+tombstone, d+tombstone

// Source fields docs/debezium.md lists as equal to Debezium's. Every other
// source field must be listed in compatSourceDiffers (documented there as a
// difference) or the test fails.
var (
	compatSourceSameMySQL    = []string{"connector", "name", "snapshot", "db", "sequence", "table", "server_id", "gtid", "file", "pos", "row"}
	compatSourceSamePostgres = []string{"connector", "name", "snapshot", "db", "schema", "table", "txId", "xmin"}
	compatSourceDiffers      = map[string]bool{ // docs/debezium.md, "Source block"
		"version": true, "ts_ms": true, "ts_us": true, "ts_ns": true, "thread": true, "query": true, "lsn": true, "sequence": true, "origin": true, "origin_lsn": true,
	}
	// envelope fields that are processing times (docs/debezium.md, "Envelope")
	compatEnvelopeDiffers = map[string]bool{"ts_ms": true, "ts_us": true, "ts_ns": true}
)

func TestDebeziumCompatMariaDB(t *testing.T) {
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db, fmt.Sprintf(compatMariaDBTypes, s.Database),
		fmt.Sprintf("CREATE TABLE %s.marker (id INT PRIMARY KEY, note VARCHAR(20))", s.Database))

	// Debezium's own user, with the grants Tributary's CDC user has.
	dbzUser := "dbz" + strings.TrimPrefix(s.Source, "src")
	testenv.Exec(t, db,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", dbzUser, dbzUser),
		fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '%s'@'%%'", dbzUser))
	t.Cleanup(func() { db.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", dbzUser)) })

	dbzPrefix := "d" + s.Prefix
	tribTopic, dbzTopic := s.topic("types"), dbzPrefix+"."+s.Database+".types"
	host, port, _ := strings.Cut(testenv.MySQLAddr(), ":")
	props := map[string]string{
		"name":                  "compat-mariadb",
		"connector.class":       "io.debezium.connector.mariadb.MariaDbConnector",
		"database.hostname":     host,
		"database.port":         port,
		"database.user":         dbzUser,
		"database.password":     dbzUser,
		"database.server.id":    fmt.Sprint(testenv.ServerID()),
		"database.include.list": s.Database,
		"table.include.list":    s.Database + ".types," + s.Database + ".marker",
		"database.ssl.mode":     "disable",
		// the current position with the tables' structure only, no locks
		"snapshot.mode":           "no_data",
		"snapshot.locking.mode":   "none",
		"schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory",
	}
	for k, v := range debeziumPinned(false) {
		props[k] = v
	}
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%[5]s.types", "%[5]s.marker"]
    heartbeat: 1s
    format: debezium
    debezium: {schemas: false, connector: mariadb, topic_prefix: %[6]s, bigint_unsigned: long}
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database, dbzPrefix))

	exec := func(stmts ...string) {
		for _, q := range stmts {
			testenv.Exec(t, db, fmt.Sprintf(q, s.Database))
		}
	}
	runCompat(t, compatRun{
		tribTopic: tribTopic, dbzTopic: dbzTopic,
		tribMarker: s.topic("marker"), dbzMarker: dbzPrefix + "." + s.Database + ".marker",
		config: cfg, dbzPrefix: dbzPrefix, dbzProps: props,
		marker:     func(id int) { exec(fmt.Sprintf("INSERT INTO %%[1]s.marker VALUES (%d, 'start')", id)) },
		changes:    func() { exec(compatMariaDBChanges...) },
		sourceSame: compatSourceSameMySQL,
		documented: map[string]documentedDiff{"pt": pointAsGeometry},
	})
}

func TestDebeziumCompatPostgres(t *testing.T) {
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := newSetup(t)
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	tribSlot, dbzSlot, pub := s.Database+"_trib", s.Database+"_dbz", s.Database+"_pub"
	dbzUser := "dbz" + strings.TrimPrefix(s.Source, "src")
	testenv.Exec(t, admin, "CREATE DATABASE "+s.Database,
		fmt.Sprintf("CREATE ROLE %s REPLICATION LOGIN PASSWORD '%s'", dbzUser, dbzUser))
	// Cleanups run last-registered first: the processes stop before this
	// drops their slots, the database and Debezium's role.
	t.Cleanup(func() {
		admin.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($1, $2) AND NOT active", tribSlot, dbzSlot)
		admin.Exec("DROP DATABASE IF EXISTS " + s.Database + " WITH (FORCE)")
		admin.Exec("DROP ROLE IF EXISTS " + dbzUser)
		admin.Close()
	})
	db, err := sql.Open("pgx", testenv.PGURL(s.Database))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // SET TimeZone applies to the one session
	t.Cleanup(func() { db.Close() })
	testenv.Exec(t, db, compatPostgresTypes,
		fmt.Sprintf("GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s, %s", testenv.PGCDCUser, dbzUser),
		"CREATE PUBLICATION "+pub+" FOR TABLE types, marker")

	dbzPrefix := "d" + s.Prefix
	host, port, _ := strings.Cut(testenv.PGAddr(), ":")
	props := map[string]string{
		"name":                        "compat-postgres",
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"plugin.name":                 "pgoutput",
		"database.hostname":           host,
		"database.port":               port,
		"database.user":               dbzUser,
		"database.password":           dbzUser,
		"database.dbname":             s.Database,
		"slot.name":                   dbzSlot,
		"publication.name":            pub,
		"publication.autocreate.mode": "disabled",
		"table.include.list":          "public.types,public.marker",
		"snapshot.mode":               "no_data",
		// logical decoding messages (Tributary's heartbeats among them)
		// would go to <prefix>.message; Tributary does not capture them
		"message.prefix.exclude.list": ".*",
	}
	for k, v := range debeziumPinned(true) {
		props[k] = v
	}
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    kind: postgres
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.types", "public.marker"]
    heartbeat: 1s
    status_interval: 200ms
    format: debezium
    debezium: {schemas: false, topic_prefix: %s}
`, s.Source, testenv.PGAddr(), testenv.PGCDCUser, s.Database, tribSlot, pub, dbzPrefix))

	runCompat(t, compatRun{
		tribTopic: s.Prefix + "." + s.Source + ".public.types", dbzTopic: dbzPrefix + ".public.types",
		tribMarker: s.Prefix + "." + s.Source + ".public.marker", dbzMarker: dbzPrefix + ".public.marker",
		config: cfg, dbzPrefix: dbzPrefix, dbzProps: props,
		marker:     func(id int) { testenv.Exec(t, db, fmt.Sprintf("INSERT INTO marker VALUES (%d, 'start')", id)) },
		changes:    func() { testenv.Exec(t, db, compatPostgresChanges...) },
		sourceSame: compatSourceSamePostgres,
		documented: map[string]documentedDiff{"nm": nameIsNull},
	})
}

type compatRun struct {
	tribTopic, dbzTopic, tribMarker, dbzMarker string
	config, dbzPrefix                          string
	dbzProps                                   map[string]string
	marker                                     func(id int) // inserts marker row id
	changes                                    func()
	sourceSame                                 []string
	documented                                 map[string]documentedDiff // column → known difference
}

// documentedDiff accepts one documented value difference of a column
// (docs/debezium.md, "Values and schemas") and returns its description, or
// "" when the two values differ in any other way.
type documentedDiff func(trib, dbz any) string

// pointAsGeometry: Tributary's MySQL reader names every spatial column
// type "geometry", so a POINT column is Debezium's Geometry {wkb, srid},
// where Debezium writes its Point {x, y, wkb, srid}; wkb and srid equal.
func pointAsGeometry(trib, dbz any) string {
	tm, _ := trib.(map[string]any)
	dm, _ := dbz.(map[string]any)
	if tm == nil || dm == nil || len(tm) != 2 || len(dm) != 4 || dm["x"] == nil || dm["y"] == nil {
		return ""
	}
	if valueDiff(tm["wkb"], dm["wkb"]) != "" || valueDiff(tm["srid"], dm["srid"]) != "" {
		return ""
	}
	return "POINT: Debezium adds x, y (Point); Tributary writes Geometry {wkb, srid}, equal"
}

// nameIsNull: Debezium 3.2's PostgreSQL connector writes null for columns
// of type name; Tributary writes the text.
func nameIsNull(trib, dbz any) string {
	if _, ok := trib.(string); ok && dbz == nil {
		return "PostgreSQL name: Debezium writes null, Tributary the text"
	}
	return ""
}

func runCompat(t *testing.T, r compatRun) {
	createTopics(t, 1, r.tribTopic, r.dbzTopic, r.tribMarker, r.dbzMarker)
	d := startDaemon(t, "run", "-c", r.config)
	dbz := startDebezium(t, r.dbzPrefix, r.dbzProps)
	d.waitStreaming(t)

	// Both stream once each delivered a marker row written after its start:
	// from then on they read the same changes from the same position.
	deadline := time.Now().Add(90 * time.Second)
	for id := 1; topicEnd(t, r.tribMarker) == 0 || topicEnd(t, r.dbzMarker) == 0; id++ {
		if time.Now().After(deadline) {
			t.Fatalf("no marker row on %s (%d) and %s (%d) within 90s", r.tribMarker, topicEnd(t, r.tribMarker), r.dbzMarker, topicEnd(t, r.dbzMarker))
		}
		dbz.alive(t)
		r.marker(id)
		time.Sleep(500 * time.Millisecond)
	}

	r.changes()
	trib := readTopic(t, r.tribTopic, 0, compatMessages, 60*time.Second, 2*time.Second)
	deb := readTopic(t, r.dbzTopic, 0, compatMessages, 60*time.Second, 2*time.Second)
	report, diffs := compareDebezium(trib, deb, r.sourceSame, r.documented)
	t.Logf("Tributary %s vs Debezium %s:\n%s", r.tribTopic, r.dbzTopic, report)
	if len(diffs) > 0 {
		t.Errorf("%d differences from Debezium:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	d.stop(t)
	dbz.stop()
}

// compareDebezium compares the two topics message by message. It returns a
// readable report of what was compared and every difference not allowed
// by docs/debezium.md.
func compareDebezium(trib, deb []testenv.Record, sourceSame []string, documented map[string]documentedDiff) (string, []string) {
	var rep strings.Builder
	var diffs []string
	if len(trib) != len(deb) {
		diffs = append(diffs, fmt.Sprintf("message count: Tributary %d, Debezium %d", len(trib), len(deb)))
	}
	allowedSeen := map[string]string{}
	same := map[string]bool{}
	for _, f := range sourceSame {
		same[f] = true
	}
	for i := 0; i < min(len(trib), len(deb)); i++ {
		tm, dm := trib[i], deb[i]
		what := fmt.Sprintf("message %d", i)
		if d := jsonDiff("key", tm.Key, dm.Key); d != "" {
			diffs = append(diffs, what+": "+d)
		}
		if (tm.Value == nil) != (dm.Value == nil) {
			diffs = append(diffs, fmt.Sprintf("%s: tombstone: Tributary %v, Debezium %v", what, tm.Value == nil, dm.Value == nil))
			continue
		}
		if tm.Value == nil {
			fmt.Fprintf(&rep, "  %2d tombstone, key %s: equal\n", i, tm.Key)
			continue
		}
		te, de := decodeObject(tm.Value), decodeObject(dm.Value)
		if te == nil || de == nil {
			diffs = append(diffs, fmt.Sprintf("%s: not a JSON object: Tributary %s, Debezium %s", what, tm.Value, dm.Value))
			continue
		}
		op := fmt.Sprint(te["op"])
		var fields, srcEqual []string
		for _, k := range unionKeys(te, de) {
			tv, tok := te[k]
			dv, dok := de[k]
			switch {
			case !tok || !dok:
				diffs = append(diffs, fmt.Sprintf("%s (%s): envelope field %q only in %s", what, op, k, only(tok)))
			case compatEnvelopeDiffers[k]:
				allowedSeen["envelope."+k] = fmt.Sprintf("%v vs %v", tv, dv)
			case k == "before" || k == "after":
				tr, _ := tv.(map[string]any)
				dr, _ := dv.(map[string]any)
				if (tr == nil) != (dr == nil) {
					diffs = append(diffs, fmt.Sprintf("%s (%s): %s: Tributary %s, Debezium %s", what, op, k, enc(tv), enc(dv)))
					continue
				}
				if tr == nil {
					continue
				}
				n := 0
				for _, col := range unionKeys(tr, dr) {
					tc, tok := tr[col]
					dc, dok := dr[col]
					if !tok || !dok {
						diffs = append(diffs, fmt.Sprintf("%s (%s): %s.%s only in %s", what, op, k, col, only(tok)))
						continue
					}
					if d := valueDiff(tc, dc); d != "" {
						if f := documented[col]; f != nil {
							if why := f(tc, dc); why != "" {
								allowedSeen[k+"."+col] = why + ": Tributary " + enc(tc) + ", Debezium " + enc(dc)
								continue
							}
						}
						diffs = append(diffs, fmt.Sprintf("%s (%s): %s.%s: Tributary %s, Debezium %s%s", what, op, k, col, enc(tc), enc(dc), d))
						continue
					}
					n++
				}
				fields = append(fields, fmt.Sprintf("%s %d/%d", k, n, len(unionKeys(tr, dr))))
			case k == "source":
				ts, _ := tv.(map[string]any)
				ds, _ := dv.(map[string]any)
				for _, f := range unionKeys(ts, ds) {
					tf, tok := ts[f]
					df, dok := ds[f]
					switch {
					case same[f]:
						if !tok || !dok || valueDiff(tf, df) != "" {
							diffs = append(diffs, fmt.Sprintf("%s (%s): source.%s: Tributary %s, Debezium %s", what, op, f, enc(tf), enc(df)))
						} else {
							srcEqual = append(srcEqual, f)
						}
					case compatSourceDiffers[f]:
						allowedSeen["source."+f] = fmt.Sprintf("Tributary %s, Debezium %s", enc(tf), enc(df))
					default:
						diffs = append(diffs, fmt.Sprintf("%s (%s): source.%s (not in docs/debezium.md): Tributary %s, Debezium %s", what, op, f, enc(tf), enc(df)))
					}
				}
			default: // op, transaction
				if d := valueDiff(tv, dv); d != "" {
					diffs = append(diffs, fmt.Sprintf("%s (%s): %s: Tributary %s, Debezium %s", what, op, k, enc(tv), enc(dv)))
				}
			}
		}
		fmt.Fprintf(&rep, "  %2d op %s, key %s: key equal, %s equal; source equal: %s\n", i, op, tm.Key, strings.Join(fields, ", "), strings.Join(srcEqual, ","))
	}
	keys := make([]string, 0, len(allowedSeen))
	for k := range allowedSeen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rep.WriteString("  documented differences (last seen):\n")
	for _, k := range keys {
		fmt.Fprintf(&rep, "    %s: %s\n", k, allowedSeen[k])
	}
	return rep.String(), diffs
}

func decodeObject(b []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

func jsonDiff(what string, a, b []byte) string {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	ea, eb := da.Decode(&x), db.Decode(&y)
	if (a == nil) != (b == nil) || (ea == nil) != (eb == nil) || valueDiff(x, y) != "" {
		return fmt.Sprintf("%s: Tributary %s, Debezium %s", what, a, b)
	}
	return ""
}

// valueDiff is "" when two decoded JSON values are equal: same JSON types,
// strings and booleans identical, numbers with the same text — or, only for
// the float formatting docs/debezium.md documents ("Float text": Go's
// shortest form vs Java's, e.g. 1e+300 vs 1.0E300), the same exact value.
func valueDiff(a, b any) string {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return " (different JSON types)"
		}
		if x == y {
			return ""
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		if okx && oky && rx.Cmp(ry) == 0 && (strings.ContainsAny(string(x)+string(y), ".eE")) {
			return ""
		}
		return " (numbers differ)"
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return " (objects differ)"
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || valueDiff(v, w) != "" {
				return " (objects differ at " + k + ")"
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return " (arrays differ)"
		}
		for i := range x {
			if valueDiff(x[i], y[i]) != "" {
				return fmt.Sprintf(" (arrays differ at %d)", i)
			}
		}
		return ""
	default:
		if a != b {
			return " (values differ)"
		}
		return ""
	}
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func only(inTributary bool) string {
	if inTributary {
		return "Tributary"
	}
	return "Debezium"
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
