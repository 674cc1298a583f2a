package e2e

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The Kafka ecosystem's own sink reads Tributary's topics: Kafka Connect
// (standalone, the runtime of the test bed's Kafka) runs Debezium's JDBC
// sink connector on a MariaDB source's format debezium topic (JSON with
// schemas) into a PostgreSQL database. After inserts, updates, deletes and
// a primary-key change the PostgreSQL table equals the source table row for
// row.
func TestKafkaConnectJDBCSinkJSONMariaDBToPostgres(t *testing.T) {
	src := "    format: debezium\n    debezium: {schemas: true, connector: mariadb}\n"
	runJDBCSinkScenario(t, "", src, jsonConverter)
}

// jdbcSinkRows is the comparable text of the scenario table: one line per
// row, NULL spelled <null>. The same SELECT runs on both sides; only the
// cast to text differs between the dialects.
func jdbcSinkRows(db *sql.DB, table, text string) string {
	col := func(c string) string { return fmt.Sprintf("COALESCE(CAST(%s AS %s), '<null>')", c, text) }
	r, err := db.Query(fmt.Sprintf("SELECT id, %s, %s, %s FROM %s ORDER BY id", col("name"), col("n"), col("d"), table))
	if err != nil {
		return "error: " + err.Error()
	}
	defer r.Close()
	var b strings.Builder
	for r.Next() {
		var id int
		var name, n, dec string
		if err := r.Scan(&id, &name, &n, &dec); err != nil {
			return "error: " + err.Error()
		}
		fmt.Fprintf(&b, "%d|%s|%s|%s\n", id, name, n, dec)
	}
	if err := r.Err(); err != nil {
		return "error: " + err.Error()
	}
	return b.String()
}

// runJDBCSinkScenario runs the mixed workload on a MariaDB table whose
// source block ends with srcBlock (prefixed by topLevel in the config),
// with Kafka Connect reading the topic through conv, and waits for the
// PostgreSQL table to equal the source table.
func runJDBCSinkScenario(t *testing.T, topLevel, srcBlock string, conv connectConverter) {
	testenv.RequireTCP(t, "PostgreSQL", testenv.PGAddr())
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
	testenv.Exec(t, db, "CREATE DATABASE "+s.Database,
		fmt.Sprintf("CREATE TABLE %s.t (id INT PRIMARY KEY, name VARCHAR(50), n BIGINT, d DECIMAL(10,2))", s.Database))
	target := createPGDatabase(t, s.Database)
	topic := s.topic("t")
	createTopics(t, 1, topic)
	cfg := s.writeConfigWith(t, "", s.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second)+srcBlock)
	if topLevel != "" {
		prependConfig(t, cfg, topLevel)
	}
	d := startDaemon(t, "run", "-c", cfg)
	// The JVM starts while the daemon connects and the workload runs.
	connect := startConnect(t, connectSink{Name: s.Database, Topic: topic, Database: s.Database, Converter: conv})
	d.waitStreaming(t)

	q := func(stmt string) string { return strings.ReplaceAll(stmt, "$db", s.Database) }
	for i := 1; i <= 20; i++ {
		testenv.Exec(t, db, q(fmt.Sprintf("INSERT INTO $db.t VALUES (%d, 'row %d', %d, %d.25)", i, i, i*1000, i)))
	}
	testenv.Exec(t, db,
		q("UPDATE $db.t SET name = 'changed', n = NULL WHERE id IN (2, 4)"),
		q("UPDATE $db.t SET d = NULL WHERE id > 15"),
		q("DELETE FROM $db.t WHERE id IN (5, 6)"),
		q("UPDATE $db.t SET id = 100 WHERE id = 7"), // a key change: delete, tombstone, create
		q("UPDATE $db.t SET id = 101, name = 'moved' WHERE id = 8"),
		q("INSERT INTO $db.t VALUES (5, 'back', 5, 5.50)"), // a deleted key again
	)
	want := jdbcSinkRows(db, s.Database+".t", "CHAR")
	if n := strings.Count(want, "\n"); n != 19 {
		t.Fatalf("the source table has %d rows, want 19:\n%s", n, want)
	}
	var got string
	defer func() {
		if t.Failed() {
			t.Logf("PostgreSQL:\n%s\nsource:\n%s", got, want)
		}
	}()
	// Generous: the worker is a JVM on a busy 2-core machine; success returns at once.
	testenv.Eventually(t, 2*time.Minute, "the JDBC sink's PostgreSQL table to equal the source table", func() bool {
		d.requireRunning(t)
		connect.alive(t)
		got = jdbcSinkRows(target, "t", "TEXT")
		return got == want
	})
	t.Logf("the sink's table: %s", pgColumnTypes(t, target, "t"))
	d.stop(t)
}

// createPGDatabase creates database name on the shared PostgreSQL 15 for
// the sink to write into, dropped at cleanup.
func createPGDatabase(t *testing.T, name string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, admin, "CREATE DATABASE "+name)
	target, err := sql.Open("pgx", testenv.PGURL(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		target.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	return target
}

// The same through format avro with Debezium's envelope, read by
// Apicurio's Avro converter through the test bed's registry.
func TestKafkaConnectJDBCSinkAvroMariaDBToPostgres(t *testing.T) {
	url := testenv.RegistryURL(t)
	src := "    format: avro\n    avro: {envelope: debezium}\n    debezium: {connector: mariadb}\n"
	runJDBCSinkScenario(t, avroRegistryBlock(url), src, apicurioConverter(t))
}

// pgColumnTypes lists table's columns as name:type, in column order.
func pgColumnTypes(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	r, err := db.Query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer r.Close()
	var cols []string
	for r.Next() {
		var name, typ string
		if err := r.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name+":"+typ)
	}
	return strings.Join(cols, " ")
}
