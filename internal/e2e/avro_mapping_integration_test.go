package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Mapped MariaDB tables through format avro: one renamed, dropped, masked,
// cast, extended and routed to an entity, one routed to a topic of its own
// with a key.fields key whose change splits into a delete and a create.
// Decoded with the registered schemas, every event equals the JSON
// format's from a second source with the same mappings; the schemas are
// the mapping's output, registered per output topic; verify reads the
// mapped Avro topics and finds no differences.
func TestAvroMappedTablesEqualJSONMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db,
		fmt.Sprintf("CREATE TABLE %s.cust (id INT PRIMARY KEY, cust_nm VARCHAR(40), email VARCHAR(80), phone VARCHAR(20), is_vip TINYINT(1), amount DECIMAL(10,2), created DATETIME(3), notes TEXT)", s.Database),
		fmt.Sprintf("CREATE TABLE %s.ord (id INT PRIMARY KEY, customer INT, total DECIMAL(8,2), status VARCHAR(10))", s.Database),
		fmt.Sprintf("INSERT INTO %s.cust VALUES (1, 'Zoë', 'zoe@example.com', '+49 170 1234567', 1, 1234.50, '2024-07-01 12:00:00.120', 'likes cats'), "+
			"(2, 'Bo', 'bo@example.com', '555-0101', 0, -0.01, '2024-01-31 23:59:59.999', NULL), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)", s.Database),
		fmt.Sprintf("INSERT INTO %s.ord VALUES (1, 10, 99.90, 'paid'), (2, 20, 5.00, NULL)", s.Database))
	salt := filepath.Join(t.TempDir(), "salt")
	if err := os.WriteFile(salt, []byte("pepper\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	jsonSrc, avroSrc := s.Source+"j", s.Source+"a"
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
	custTopic := func(src string) string { return s.Prefix + "." + src + "." + s.Database + ".customer" }
	ordTopic := func(src string) string { return s.Prefix + ".orders-" + src }
	mappings := fmt.Sprintf(`mappings:
  - table: %[1]s.cust
    entity: customer
    rename: {cust_nm: full_name}
    drop: [notes]
    mask: {email: {kind: hash, salt_file: %[2]q}, phone: {kind: keep_last, n: 4}}
    cast: {is_vip: bool, amount: number, created: {timezone: Europe/Berlin}}
    add: {region: eu, version: 2}
`, s.Database, salt)
	for _, src := range []string{jsonSrc, avroSrc} {
		mappings += fmt.Sprintf(`  - source: %s
    table: %s.ord
    topic: %s
    rename: {customer: buyer}
    cast: {total: number}
    key: {fields: [buyer]}
`, src, s.Database, ordTopic(src))
	}
	createTopics(t, 1, custTopic(jsonSrc), custTopic(avroSrc), ordTopic(jsonSrc), ordTopic(avroSrc))
	cfg := s.writeConfigWith(t, "", block(jsonSrc, s.ServerID, "native")+block(avroSrc, testenv.ServerID(), "avro"))
	prependConfig(t, cfg, avroRegistryBlock(url)+mappings)
	d := startDaemon(t, "run", "-c", cfg)
	for _, src := range []string{jsonSrc, avroSrc} {
		readTopicN(t, custTopic(src), 3)
		readTopicN(t, ordTopic(src), 2)
	}
	testenv.Exec(t, db,
		fmt.Sprintf("UPDATE %s.cust SET amount = 99.95, notes = 'x' WHERE id = 1", s.Database),
		fmt.Sprintf("DELETE FROM %s.cust WHERE id = 2", s.Database),
		fmt.Sprintf("UPDATE %s.ord SET customer = 99 WHERE id = 1", s.Database)) // buyer 10 → 99: delete and create

	dec := newAvroDecoder(t, url, false)
	// cust: 3 snapshot reads, an update, a delete (and its tombstone);
	// ord: 2 reads, then the key change's delete (tombstone) and create.
	for _, tc := range []struct {
		topic          func(string) string
		records, want  int
		entity, record string
	}{
		{custTopic, 6, 5, "customer", s.Prefix + "." + avroSrc + "." + s.Database + ".customer.Value"},
		{ordTopic, 5, 4, "", s.Prefix + ".orders_" + avroSrc + ".Value"},
	} {
		jsonRecs := readTopicN(t, tc.topic(jsonSrc), tc.records)
		avroRecs := readTopicN(t, tc.topic(avroSrc), tc.records)
		compareImages(t, jsonImages(t, jsonRecs), avroImages(t, dec, avroRecs), tc.want)
		for _, r := range avroRecs {
			if bytes.Contains(r.Value, []byte("example.com")) || bytes.Contains(r.Key, []byte("example.com")) {
				t.Errorf("a hashed email appears in clear in %s", tc.topic(avroSrc))
			}
			if r.Value == nil {
				continue
			}
			_, sch, v := dec.decode(t, r.Value)
			if name := sch.(*avro.RecordSchema).FullName(); name != tc.record {
				t.Errorf("%s: value record %s, want %s", tc.topic(avroSrc), name, tc.record)
			}
			if e, _ := v["entity"].(string); e != tc.entity {
				t.Errorf("%s: entity %q, want %q", tc.topic(avroSrc), e, tc.entity)
			}
		}
	}
	// The key schema of the routed table is key.fields' buyer, under the
	// output topic's subject.
	reg, err := registry.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	key, err := reg.GetLatestSchema(context.Background(), ordTopic(avroSrc)+"-key")
	if err != nil {
		t.Fatalf("subject %s-key: %v", ordTopic(avroSrc), err)
	}
	if fs := key.(*avro.RecordSchema).Fields(); len(fs) != 1 || fs[0].Name() != "buyer" {
		t.Errorf("key schema of %s is %s, want the buyer field", ordTopic(avroSrc), key)
	}
	// tail prints the mapped JSON events of the entity topic (the routed
	// orders topic is not under the source's prefix).
	out, err := runCLI(t, "tail", "-c", cfg, "--source", avroSrc, "--from-beginning", "--max", "6", "--timeout", "30s")
	for _, want := range []string{`"op":"u","entity":"customer","key":{"id":1}`, `"full_name":"Zoë"`, `"amount":99.95`, `"is_vip":true`, `"region":"eu","version":2}`} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("tail (%v) does not print %s:\n%s", err, want, out)
		}
	}
	if out, err := runCLI(t, "verify", "-c", cfg, "--source", avroSrc, "--quiet"); err != nil || !strings.Contains(out, "no differences") {
		t.Errorf("verify of the mapped Avro topics: %v\n%s", err, out)
	}
	d.stop(t)
	// Not a vacuous comparison: a row changed while the daemon is down differs.
	testenv.Exec(t, db, fmt.Sprintf("UPDATE %s.cust SET cust_nm = 'Changed' WHERE id = 3", s.Database))
	out, err = runCLI(t, "verify", "-c", cfg, "--source", avroSrc, "--quiet", "--rechecks", "0")
	if err == nil || !strings.Contains(out+err.Error(), "1 row differs") {
		t.Errorf("verify after a row changed unseen: %v\n%s", err, out)
	}
}

// The same for a PostgreSQL table: renamed, dropped, masked, cast (a
// numeric without scale to number, a timestamp to UTC) and extended,
// routed to an entity with the source in its key.
func TestAvroMappedTablesEqualJSONPostgres(t *testing.T) {
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
	testenv.Exec(t, s.db,
		"CREATE TABLE cust (id int PRIMARY KEY, cust_nm text, email text, is_vip int, amount numeric(10,2), price numeric, created timestamp(3), notes text)",
		"ALTER TABLE cust REPLICA IDENTITY FULL",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser,
		"CREATE PUBLICATION "+s.publication()+" FOR TABLE cust",
		"INSERT INTO cust VALUES (1, 'Zoë', 'zoe@example.com', 1, 1234.50, 3.14159, '2024-07-01 12:00:00.12', 'likes cats'), "+
			"(2, 'Bo', 'bo@example.com', 0, -0.01, 1e3, '2024-01-31 23:59:59.999', NULL), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
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
	mappings := `mappings:
  - table: public.cust
    entity: customer
    rename: {cust_nm: full_name, id: customer_id}
    drop: [notes]
    mask: {email: redact}
    cast: {is_vip: bool, amount: number, price: number, created: {timezone: America/New_York}}
    add: {region: us}
    key: {include_source: true}
`
	topic := func(src string) string { return s.Prefix + "." + src + ".public.customer" }
	createTopics(t, 1, topic(jsonSrc), topic(avroSrc))
	cfg := s.setup.writeConfigWith(t, "", block(jsonSrc, "native")+block(avroSrc, "avro"))
	prependConfig(t, cfg, avroRegistryBlock(url)+mappings)
	d := startDaemon(t, "run", "-c", cfg)
	readTopicN(t, topic(jsonSrc), 3)
	readTopicN(t, topic(avroSrc), 3)
	testenv.Exec(t, s.db, "UPDATE cust SET amount = 99.95, notes = 'x' WHERE id = 1", "DELETE FROM cust WHERE id = 2")
	// The key holds the source's name, which differs between the two: compare by key without it.
	j := jsonImages(t, readTopicN(t, topic(jsonSrc), 6))
	a := avroImages(t, newAvroDecoder(t, url, true), readTopicN(t, topic(avroSrc), 6))
	compareImages(t, withoutSource(j, jsonSrc), withoutSource(a, avroSrc), 5)
	if out, err := runCLI(t, "verify", "-c", cfg, "--source", avroSrc, "--quiet"); err != nil || !strings.Contains(out, "no differences") {
		t.Errorf("verify of the mapped Avro topic: %v\n%s", err, out)
	}
	d.stop(t)
}

// withoutSource drops the {"source":<src>} field from the keys of images.
func withoutSource(images map[string][2]string, src string) map[string][2]string {
	out := make(map[string][2]string, len(images))
	for k, v := range images {
		out[strings.Replace(k, `"source":"`+src+`",`, "", 1)] = v
	}
	return out
}

// Two tables of different columns routed to one topic with one key shape
// (key.fields) share its subjects: under BACKWARD the second table's schema
// is accepted next to the first's, and each event decodes with its own.
func TestAvroTablesSharingATopicMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db,
		fmt.Sprintf("CREATE TABLE %s.crm_people (id INT PRIMARY KEY, email VARCHAR(80), name VARCHAR(40))", s.Database),
		fmt.Sprintf("CREATE TABLE %s.shop_buyers (buyer_id BIGINT PRIMARY KEY, email VARCHAR(80), city VARCHAR(40))", s.Database))
	topic := s.Prefix + ".people"
	createTopics(t, 1, topic)
	cfg := s.writeConfigWith(t, "", s.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second)+"    format: avro\n")
	prependConfig(t, cfg, avroRegistryBlock(url)+fmt.Sprintf("mappings:\n  - {table: %q, topic: %s, key: {fields: [email]}}\n", s.Database+".*_*", topic))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	testenv.Exec(t, db,
		fmt.Sprintf("INSERT INTO %s.crm_people VALUES (1, 'zoe@example.com', 'Zoë')", s.Database),
		fmt.Sprintf("INSERT INTO %s.shop_buyers VALUES (7, 'zoe@example.com', 'Köln')", s.Database))
	recs := readTopicN(t, topic, 2)
	dec := newAvroDecoder(t, url, false)
	var afters []string
	ids := map[int]bool{}
	for _, r := range recs {
		id, sch, v := dec.decode(t, r.Value)
		ids[id] = true
		afters = append(afters, dec.canonicalImage(t, fieldType(t, sch, "after"), v["after"]))
		_, ks, kv := dec.decode(t, r.Key)
		if k := dec.canonicalImage(t, ks, kv); k != `{"email":"zoe@example.com"}` {
			t.Errorf("key %s, want the email", k)
		}
	}
	want := []string{`{"id":1,"email":"zoe@example.com","name":"Zoë"}`, `{"buyer_id":7,"email":"zoe@example.com","city":"Köln"}`}
	if strings.Join(afters, "\n") != strings.Join(want, "\n") || len(ids) != 2 {
		t.Errorf("decoded with %d schemas:\n%s\nwant:\n%s", len(ids), strings.Join(afters, "\n"), strings.Join(want, "\n"))
	}
	d.requireRunning(t)
	d.stop(t)
}
