package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/registry"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// evolutionSetup is a MariaDB database with table t (id, v INT) and a
// daemon streaming it with format avro under BACKWARD compatibility.
type evolutionSetup struct {
	*setup
	db    *sql.DB
	d     *daemon
	url   string
	topic string
}

func startEvolution(t *testing.T, registryExtra, kafkaExtra string) *evolutionSetup {
	return startEvolutionCfg(t, registryExtra, kafkaExtra, new(string))
}

func startEvolutionCfg(t *testing.T, registryExtra, kafkaExtra string, cfgPath *string) *evolutionSetup {
	t.Helper()
	url := testenv.RegistryURL(t)
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db, fmt.Sprintf("CREATE TABLE %s.t (id INT PRIMARY KEY, v INT)", s.Database))
	topic := s.topic("t")
	createTopics(t, 1, topic)
	cfg := s.writeConfigWith(t, kafkaExtra, s.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second)+"    format: avro\n")
	prependConfig(t, cfg, fmt.Sprintf("schema_registry: {url: %q, compatibility: BACKWARD%s}\n", url, registryExtra))
	*cfgPath = cfg
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	return &evolutionSetup{setup: s, db: db, d: d, url: url, topic: topic}
}

func (e *evolutionSetup) exec(t *testing.T, stmt string) {
	t.Helper()
	testenv.Exec(t, e.db, fmt.Sprintf(stmt, e.Database))
}

// ADD COLUMN mid-stream registers a new, compatible version: later events
// carry its id, earlier ones still decode with theirs. A type change the
// subject's BACKWARD compatibility rejects stops the source, quoting the
// registry and naming the table and the DDL.
func TestAvroSchemaEvolutionMariaDB(t *testing.T) {
	var cfg string
	e := startEvolutionCfg(t, "", "", &cfg)
	e.exec(t, "INSERT INTO %s.t VALUES (1, 10)")
	e.exec(t, "ALTER TABLE %s.t ADD COLUMN c VARCHAR(10) NULL")
	e.exec(t, "INSERT INTO %s.t VALUES (2, 20, 'new')")
	recs := readTopicN(t, e.topic, 2)
	dec := newAvroDecoder(t, e.url, false)
	id1, s1, v1 := dec.decode(t, recs[0].Value)
	id2, s2, v2 := dec.decode(t, recs[1].Value)
	if id1 == id2 {
		t.Fatalf("both events carry schema id %d; want a new id after ADD COLUMN", id1)
	}
	if got := dec.canonicalImage(t, fieldType(t, s1, "after"), v1["after"]); got != `{"id":1,"v":10}` {
		t.Errorf("event before ADD COLUMN decodes with schema %d as %s", id1, got)
	}
	if got := dec.canonicalImage(t, fieldType(t, s2, "after"), v2["after"]); got != `{"id":2,"v":20,"c":"new"}` {
		t.Errorf("event after ADD COLUMN decodes with schema %d as %s", id2, got)
	}
	reg, err := registry.NewClient(e.url)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := reg.GetVersions(context.Background(), e.topic+"-value")
	if err != nil || len(versions) != 2 {
		t.Errorf("subject %s-value has versions %v (%v), want 2", e.topic, versions, err)
	}
	// The operator's tools read the Avro topic through the registry: tail
	// prints the JSON format's events, verify finds the table's rows (row 1
	// updated, so its image has the new column, as JSON's would need too).
	e.exec(t, "UPDATE %s.t SET v = 11 WHERE id = 1")
	readTopicN(t, e.topic, 3)
	out, err := runCLI(t, "tail", "-c", cfg, "--source", e.Source, "--from-beginning", "--max", "3", "--timeout", "30s")
	if err != nil || !strings.Contains(out, `"after":{"id":1,"v":10}`) || !strings.Contains(out, `"after":{"id":2,"v":20,"c":"new"}`) {
		t.Errorf("tail: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "verify", "-c", cfg, "--source", e.Source, "--quiet"); err != nil || !strings.Contains(out, "no differences") {
		t.Errorf("verify: %v\n%s", err, out)
	}

	e.exec(t, "ALTER TABLE %s.t MODIFY v VARCHAR(20)")
	e.exec(t, "INSERT INTO %s.t VALUES (3, 'x', 'y')")
	select {
	case <-e.d.waited: // its only source stopped
	case <-time.After(60 * time.Second):
		t.Fatalf("the source did not stop on an incompatible schema")
	}
	logs := e.d.logs.String()
	for _, want := range []string{"source stopped", "table " + e.Database + ".t", "ALTER TABLE " + e.Database + ".t MODIFY v VARCHAR(20)", "Incompatible artifact", e.topic + "-value"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, tail(problems(logs), 3000))
		}
	}
	if n := len(testenv.NewTopic(e.topic).ReadAll(t)); n != 3 {
		t.Errorf("%d events on the topic, want the 3 before the incompatible change", n)
	}
}

// With on_incompatible: dead_letter the rejected table's events go to the
// dead-letter topic, and the source goes on.
func TestAvroIncompatibleToDeadLetterMariaDB(t *testing.T) {
	dlq := testenv.UniqueName(t, "dlq")
	createTopics(t, 1, dlq)
	e := startEvolution(t, ", on_incompatible: dead_letter", fmt.Sprintf("  dead_letter_topic: %s\n", dlq))
	e.exec(t, "INSERT INTO %s.t VALUES (1, 10)")
	e.exec(t, "ALTER TABLE %s.t MODIFY v VARCHAR(20)")
	e.exec(t, "INSERT INTO %s.t VALUES (2, 'x')")
	recs := readTopicN(t, dlq, 1)
	v := string(recs[0].Value)
	for _, want := range []string{`"kind":"schema_registry"`, `"table":"` + e.Database + `.t"`, "incompatible", `"after":{"id":2,"v":"x"}`} {
		if !strings.Contains(v, want) {
			t.Errorf("dead letter %s does not hold %s", v, want)
		}
	}
	e.d.requireRunning(t)
	e.d.stop(t)
}

func fieldType(t *testing.T, s any, name string) avroSchema {
	t.Helper()
	for _, f := range s.(interface{ Fields() []*avroField }).Fields() {
		if f.Name() == name {
			return f.Type()
		}
	}
	t.Fatalf("no field %s", name)
	return nil
}

// A registry that stops answering pauses the source: it retries, restarts
// from its checkpoint with backoff and is not ready meanwhile; once the
// registry answers again the held-up row arrives, nothing skipped.
func TestAvroRegistryUnreachableBackpressureMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	proxy := testenv.StartProxy(t, testenv.RegistryAddr())
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db, fmt.Sprintf("CREATE TABLE %s.t (id INT PRIMARY KEY, v INT)", s.Database))
	topic := s.topic("t")
	createTopics(t, 1, topic)
	cfg := s.writeConfigWith(t, "", s.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second)+"    format: avro\n")
	proxied := strings.Replace(url, testenv.RegistryAddr(), proxy.Addr(), 1)
	prependConfig(t, cfg, fmt.Sprintf("schema_registry: {url: %q, compatibility: BACKWARD, timeout: 500ms}\n", proxied))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	addr, _ := d.loggedAdminAddr()

	proxy.Blackhole(true)
	testenv.Exec(t, db, fmt.Sprintf("INSERT INTO %s.t VALUES (1, 10)", s.Database))
	testenv.Eventually(t, 30*time.Second, "/readyz 503 while the registry does not answer", func() bool {
		d.requireRunning(t)
		code, _ := getStatus("http://" + addr + "/readyz")
		return code == 503
	})
	if n := len(testenv.NewTopic(topic).ReadAll(t)); n != 0 {
		t.Fatalf("%d events written without a registered schema", n)
	}
	proxy.Restore()
	recs := readTopicN(t, topic, 1)
	_, s1, v1 := newAvroDecoder(t, url, false).decode(t, recs[0].Value)
	if got := newAvroDecoder(t, url, false).canonicalImage(t, fieldType(t, s1, "after"), v1["after"]); got != `{"id":1,"v":10}` {
		t.Errorf("the held-up row decodes as %s", got)
	}
	d.waitStreaming(t)
	if !strings.Contains(d.logs.String(), "unreachable") {
		t.Errorf("the log does not say the registry was unreachable:\n%s", tail(problems(d.logs.String()), 2000))
	}
	d.stop(t)
}

// PostgreSQL: the relation message after ADD COLUMN makes a new version
// too; earlier events still decode with theirs.
func TestAvroSchemaEvolutionPostgres(t *testing.T) {
	url := testenv.RegistryURL(t)
	s, _ := preparePGTables(t, []string{"t"}, "CREATE TABLE t (id int PRIMARY KEY, v int)")
	cfg := s.setup.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+"    format: avro\n")
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	testenv.Exec(t, s.db, "INSERT INTO t VALUES (1, 10)", "ALTER TABLE t ADD COLUMN c text", "INSERT INTO t VALUES (2, 20, 'new')")
	topic := s.pgTopic("t")
	var recs []testenv.Record
	testenv.Eventually(t, time.Minute, "2 events", func() bool {
		recs = testenv.NewTopic(topic).ReadAll(t)
		return len(recs) >= 2
	})
	dec := newAvroDecoder(t, url, true)
	got := map[string]int{}
	for _, r := range recs {
		id, sch, v := dec.decode(t, r.Value)
		got[dec.canonicalImage(t, fieldType(t, sch, "after"), v["after"])] = id
	}
	id1, ok1 := got[`{"id":1,"v":10}`]
	id2, ok2 := got[`{"id":2,"v":20,"c":"new"}`]
	if !ok1 || !ok2 || id1 == id2 {
		t.Fatalf("decoded images and schema ids %v; want both rows, with different ids", got)
	}
	d.stop(t)
}
