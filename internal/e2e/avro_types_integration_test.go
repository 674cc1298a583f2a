package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// avroRegistryBlock is the config's schema_registry block for the test
// bed's registry (Apicurio's default compatibility is NONE: set it).
func avroRegistryBlock(url string) string {
	return fmt.Sprintf("schema_registry: {url: %q, compatibility: BACKWARD}\n", url)
}

// jsonImages is op, key, before and after of each JSON-format event, by
// "<op> <table> <key>" (the first copy).
func jsonImages(t *testing.T, records []testenv.Record) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, r := range records {
		if r.Value == nil {
			continue
		}
		var ev struct {
			Op     string          `json:"op"`
			Key    json.RawMessage `json:"key"`
			Before json.RawMessage `json:"before"`
			After  json.RawMessage `json:"after"`
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("JSON event: %v", err)
		}
		k := ev.Op + " " + compactJSON(t, ev.Key)
		if _, seen := out[k]; !seen {
			out[k] = [2]string{string(ev.Before), string(ev.After)}
		}
	}
	return out
}

func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return b.String()
}

// avroImages decodes Avro events as jsonImages reads JSON ones, checking
// each message's key against its value's key.
func avroImages(t *testing.T, d *avroDecoder, records []testenv.Record) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, r := range records {
		if r.Value == nil {
			continue
		}
		_, s, v := d.decode(t, r.Value)
		rec := s.(*avro.RecordSchema)
		var before, after avro.Schema
		for _, f := range rec.Fields() {
			switch f.Name() {
			case "before":
				before = f.Type()
			case "after":
				after = f.Type()
			}
		}
		_, ks, kv := d.decode(t, r.Key)
		key := d.canonicalImage(t, ks, kv)
		k := fmt.Sprint(v["op"]) + " " + compactJSON(t, []byte(key))
		if _, seen := out[k]; !seen {
			out[k] = [2]string{d.canonicalImage(t, before, v["before"]), d.canonicalImage(t, after, v["after"])}
		}
	}
	return out
}

// compareImages fails for every event whose images differ between the
// formats, column by column.
func compareImages(t *testing.T, jsonEvents, avroEvents map[string][2]string, want int) {
	t.Helper()
	if len(jsonEvents) != want || len(avroEvents) != want {
		t.Fatalf("%d JSON and %d Avro events, want %d each", len(jsonEvents), len(avroEvents), want)
	}
	for k, j := range jsonEvents {
		a, ok := avroEvents[k]
		if !ok {
			t.Errorf("%s: in JSON, not in Avro", k)
			continue
		}
		for i, img := range []string{"before", "after"} {
			if compactJSON(t, []byte(j[i])) != compactJSON(t, []byte(a[i])) {
				t.Errorf("%s %s:\n JSON: %s\n Avro: %s", k, img, j[i], a[i])
			}
		}
	}
}

// readTopic reads topic until it holds n messages.
func readTopicN(t *testing.T, topic string, n int) []testenv.Record {
	t.Helper()
	return testenv.NewTopic(topic).ReadUntil(t, 0, 0, 2*time.Minute, func(rs []testenv.Record) bool { return len(rs) >= n })
}

// Every MariaDB type of the types torture tables, snapshotted and then
// updated, through format avro: decoded with the registered schemas, the
// images equal the JSON format's from a second source on the same tables.
func TestAvroTypesEqualJSONMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	s := newSetup(t)
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
	testenv.Exec(t, db, "CREATE DATABASE "+s.Database)
	for _, ddl := range mysqlSnapTypesDDL {
		testenv.Exec(t, db, fmt.Sprintf(ddl, s.Database))
	}
	w, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The rows hold zero dates and out-of-range values MariaDB takes only
	// without a strict sql_mode; their TIMESTAMPs are written at +05:30.
	execConn(t, w, "SET time_zone = '"+halfHourOffset+"'", "SET SESSION sql_mode = ''")
	for _, row := range mysqlSnapRows {
		execConn(t, w, fmt.Sprintf(row, s.Database))
	}
	w.Close()
	block := func(name string, id uint32, format string) string {
		return fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    heartbeat: 1s
    snapshot: {mode: initial}
    format: %s
`, name, testenv.MySQLAddr(), testenv.MySQLCDCUser, id, s.Database, format)
	}
	jsonSrc, avroSrc := s.Source+"j", s.Source+"a"
	topic := func(src, table string) string { return s.Prefix + "." + src + "." + s.Database + "." + table }
	var topics []string
	for _, tbl := range []string{"types", "edge"} {
		topics = append(topics, topic(jsonSrc, tbl), topic(avroSrc, tbl))
	}
	createTopics(t, 1, topics...)
	cfg := s.writeConfigWith(t, "", block(jsonSrc, s.ServerID, "native")+block(avroSrc, testenv.ServerID(), "avro"))
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)
	rows := map[string]int{"types": 3, "edge": 7}
	for tbl, n := range rows {
		readTopicN(t, topic(jsonSrc, tbl), n)
		readTopicN(t, topic(avroSrc, tbl), n)
	}
	testenv.Exec(t, db, fmt.Sprintf("UPDATE %[1]s.types SET touch = 1", s.Database),
		fmt.Sprintf("UPDATE %[1]s.edge SET touch = 1", s.Database))
	dec := newAvroDecoder(t, url, false)
	for tbl, n := range rows {
		j := jsonImages(t, readTopicN(t, topic(jsonSrc, tbl), 2*n))
		a := avroImages(t, dec, readTopicN(t, topic(avroSrc, tbl), 2*n))
		compareImages(t, j, a, 2*n)
	}
	d.stop(t)
}

// The same for every PostgreSQL type of the types torture table.
func TestAvroTypesEqualJSONPostgres(t *testing.T) {
	url := testenv.RegistryURL(t)
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	s := &pgSetup{setup: newSetup(t)}
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	jsonSrc, avroSrc := s.Source+"j", s.Source+"a"
	testenv.Exec(t, admin, "CREATE DATABASE "+s.Database)
	t.Cleanup(func() {
		for _, src := range []string{jsonSrc, avroSrc} {
			dropSlot(t, admin, s.Database+"_"+src)
		}
		admin.Exec("DROP DATABASE IF EXISTS " + s.Database + " WITH (FORCE)")
		admin.Close()
	})
	if s.db, err = sql.Open("pgx", testenv.PGURL(s.Database)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	testenv.Exec(t, s.db, pgSnapTypesDDL,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION "+s.publication()+" FOR TABLE types")
	testenv.Exec(t, s.db, pgSnapRows...)
	block := func(name, format string) string {
		return fmt.Sprintf(`
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
    format: %s
`, name, testenv.PGAddr(), testenv.PGCDCUser, s.Database, s.Database+"_"+name, s.publication(), format)
	}
	topic := func(src string) string { return s.Prefix + "." + src + ".public.types" }
	createTopics(t, 1, topic(jsonSrc), topic(avroSrc))
	cfg := s.setup.writeConfigWith(t, "", block(jsonSrc, "native")+block(avroSrc, "avro"))
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)
	n := len(pgSnapRows)
	readTopicN(t, topic(jsonSrc), n)
	readTopicN(t, topic(avroSrc), n)
	testenv.Exec(t, s.db, "UPDATE types SET touch = 1")
	j := jsonImages(t, readTopicN(t, topic(jsonSrc), 2*n))
	a := avroImages(t, newAvroDecoder(t, url, true), readTopicN(t, topic(avroSrc), 2*n))
	compareImages(t, j, a, 2*n)
	d.stop(t)
}

// prependConfig adds top-level keys to the config file at path.
func prependConfig(t *testing.T, path, block string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(block+strings.TrimLeft(string(raw), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
