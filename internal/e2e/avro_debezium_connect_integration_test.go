package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Tributary's Avro envelope (format avro, avro.envelope debezium) against
// Debezium's own Avro output: Debezium's MariaDB source connector runs in a
// Kafka Connect worker with Apicurio's AvroConverter as key and value
// converter, Tributary on the same table with the same topic prefix, each
// onto its own topic. Both writers' schemas, fetched from the registry by
// the ids in the messages, must be the same, and the messages decoded with
// them (hamba/avro generic decoding) equal, key by key and row by row.

// dbzAvroTable has the representative column types of the types tables;
// every non-key column is nullable (Tributary does not know NOT NULL) and
// has no explicit default (Tributary writes none): docs/debezium.md,
// "Values and schemas".
const dbzAvroTable = `CREATE TABLE %s.t (
	id INT UNSIGNED NOT NULL PRIMARY KEY,
	ti TINYINT, siu SMALLINT UNSIGNED, i INT, bi BIGINT, biu BIGINT UNSIGNED,
	d DECIMAL(10,2), dbl DOUBLE, vc VARCHAR(20), tx TEXT,
	dt DATE, tm TIME(6), dtm DATETIME(3), ts TIMESTAMP(6) NULL,
	bl BLOB, e ENUM('a','b','c'), st SET('x','y','z'), j JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// dbzAvroChanges: 3 creates, an update, a delete and its tombstone.
var dbzAvroChanges = []string{
	`INSERT INTO %[1]s.t VALUES (1, -128, 65535, -2147483648, -9223372036854775808, 18446744073709551615,
		12345678.90, 0.1, 'héllo 😀', 'text', '2024-02-29', '-838:59:59.000001', '2024-01-31 23:59:59.123',
		'2038-01-19 03:14:07.999999', x'00ff', 'c', 'x,z', '{"a": [1, {"b": null}]}')`,
	`INSERT INTO %[1]s.t (id) VALUES (2)`,
	`INSERT INTO %[1]s.t VALUES (3, 127, 0, 7, 9223372036854775807, 0, -0.01, -1e300, '', '', '1000-01-01',
		'00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:01', x'', 'a', '', '[]')`,
	`UPDATE %[1]s.t SET vc = NULL, e = 'b', st = 'y', ts = '2024-07-01 12:00:00', d = 1.5 WHERE id = 1`,
	`DELETE FROM %[1]s.t WHERE id = 3`,
}

const dbzAvroMessages = 6

// dbzAvroMarker is the first key of the marker rows the test writes until
// Debezium delivers one, so that both stream before the changes; they are
// left out of the comparison.
const dbzAvroMarker = 1000

func TestAvroDebeziumEnvelopeEqualsDebeziumMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	start := time.Now()
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
	testenv.Exec(t, db, "CREATE DATABASE "+s.Database, fmt.Sprintf(dbzAvroTable, s.Database))

	// One topic prefix for both: it names the records.
	prefix := "d" + s.Prefix
	tribTopic, dbzTopic := s.topic("t"), prefix+"."+s.Database+".t"
	createTopics(t, 1, tribTopic, dbzTopic)
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.t"]
    heartbeat: 1s
    format: avro
    avro: {envelope: debezium}
    debezium: {connector: mariadb, topic_prefix: %s}
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database, prefix))
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)

	host, port, _ := strings.Cut(testenv.MySQLAddr(), ":")
	connector := map[string]string{
		"name":                  "dbzavro-" + s.Database,
		"connector.class":       "io.debezium.connector.mariadb.MariaDbConnector",
		"tasks.max":             "1",
		"topic.prefix":          prefix,
		"database.hostname":     host,
		"database.port":         port,
		"database.user":         testenv.MySQLCDCUser,
		"database.password":     testenv.MySQLCDCPassword,
		"database.server.id":    fmt.Sprint(testenv.ServerID()),
		"database.include.list": s.Database,
		"table.include.list":    s.Database + ".t",
		"database.ssl.mode":     "disable",
		// the current position with the table's structure only, no locks
		"snapshot.mode":           "no_data",
		"snapshot.locking.mode":   "none",
		"schema.history.internal": "io.debezium.relational.history.MemorySchemaHistory",
	}
	for k, v := range debeziumPinned(false) {
		connector[k] = v
	}
	// What the Avro envelope's names follow (docs/debezium.md, "As Avro").
	connector["schema.name.adjustment.mode"] = "avro"
	dbz := startConnectWorker(t, s.Database, debeziumAvroWorker(t), connector)
	d.waitStreaming(t)
	t.Logf("Tributary streams after %s", time.Since(start).Round(time.Millisecond))

	// Debezium streams once it delivered a marker row written after its
	// start; Tributary streamed before the first.
	// A JVM start on a loaded 2-core machine took over 90 s once.
	deadline := time.Now().Add(180 * time.Second)
	for id := dbzAvroMarker; topicEnd(t, dbzTopic) == 0; id++ {
		if time.Now().After(deadline) {
			t.Fatalf("no marker row on %s within 180s", dbzTopic)
		}
		dbz.alive(t)
		testenv.Exec(t, db, fmt.Sprintf("INSERT INTO %s.t (id) VALUES (%d)", s.Database, id))
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("Debezium streams after %s", time.Since(start).Round(time.Millisecond))
	for _, q := range dbzAvroChanges {
		testenv.Exec(t, db, fmt.Sprintf(q, s.Database))
	}
	dec := newAvroDecoder(t, url, false)
	// Each topic's messages after its markers: Tributary holds more of
	// them, and the changes follow the last.
	read := func(topic string) []dbzAvroMessage {
		var out []dbzAvroMessage
		for _, m := range decodeDbzAvro(t, dec, url, readTopic(t, topic, 0, dbzAvroMessages+1, time.Minute, time.Second)) {
			if id, _ := m.key["id"].(int64); id >= dbzAvroMarker {
				out = out[:0]
				continue
			}
			out = append(out, m)
		}
		return out
	}
	trib, deb := read(tribTopic), read(dbzTopic)
	if len(trib) != dbzAvroMessages || len(deb) != dbzAvroMessages {
		t.Fatalf("Tributary %d, Debezium %d messages after the markers, want %d each", len(trib), len(deb), dbzAvroMessages)
	}
	t.Logf("both topics read after %s", time.Since(start).Round(time.Millisecond))
	for i := range trib {
		compareDbzAvro(t, i, trib[i], deb[i])
	}
	d.stop(t)
	dbz.stop()
}

// debeziumAvroWorker is the worker settings for Debezium's connector
// writing Avro: Apicurio's converter registering the schemas it derives
// (in the registry's v2 API, handing out content ids as Tributary's
// Confluent-compatible API does), both plugins on plugin.path.
func debeziumAvroWorker(t *testing.T) map[string]string {
	t.Helper()
	w := map[string]string(apicurioConverter(t))
	w["plugin.path"] += "," + debeziumMariaDBPlugin(t)
	for _, side := range []string{"key", "value"} {
		w[side+".converter.apicurio.registry.auto-register"] = "true"
	}
	w["producer.linger.ms"] = "5"
	return w
}

var (
	dbzMariaDBOnce   sync.Once
	dbzMariaDBPlugin string
	dbzMariaDBErr    error
)

// debeziumMariaDBPlugin fetches Debezium's MariaDB connector once (the
// same release as the benchmark's runner) and returns its plugin.path
// directory.
func debeziumMariaDBPlugin(t *testing.T) string {
	t.Helper()
	dbzMariaDBOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, connectScript, "build-mariadb").Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			dbzMariaDBErr = fmt.Errorf("%s build-mariadb: %v\n%s", connectScript, err, msg)
		}
		dbzMariaDBPlugin = strings.TrimSpace(string(out))
	})
	if dbzMariaDBErr != nil {
		t.Fatal(dbzMariaDBErr)
	}
	return dbzMariaDBPlugin
}

// dbzAvroMessage is one decoded message: its key and value schemas as the
// registry holds them (parsed JSON) and its decoded key and value (nil for
// a tombstone's value).
type dbzAvroMessage struct {
	keySchema, valueSchema any
	key, value             map[string]any
}

func decodeDbzAvro(t *testing.T, dec *avroDecoder, url string, recs []testenv.Record) []dbzAvroMessage {
	t.Helper()
	out := make([]dbzAvroMessage, 0, len(recs))
	for _, r := range recs {
		var m dbzAvroMessage
		var id int
		id, _, m.key = dec.decode(t, r.Key)
		m.keySchema = registrySchema(t, url, id)
		if r.Value != nil {
			id, _, m.value = dec.decode(t, r.Value)
			m.valueSchema = registrySchema(t, url, id)
		}
		out = append(out, m)
	}
	return out
}

// registrySchema is schema id's text as the registry serves it, parsed.
func registrySchema(t *testing.T, url string, id int) any {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/schemas/ids/%d", url, id))
	if err != nil {
		t.Fatalf("fetch schema %d: %v", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch schema %d: %s %v: %s", id, resp.Status, err, body)
	}
	var wrap struct{ Schema string }
	if err := json.Unmarshal(body, &wrap); err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	var s any
	if err := json.Unmarshal([]byte(wrap.Schema), &s); err != nil {
		t.Fatalf("schema %d: %v: %s", id, err, wrap.Schema)
	}
	return s
}

// dbzAvroSourceDiffers are the source block's values that legitimately
// differ between two readers of the same binlog events (docs/debezium.md,
// "Source block"): the connector's version string, the processing and
// event timestamps, the thread and query. The rest (connector, name,
// snapshot, db, table, server_id, gtid, file, pos, row, sequence) must be
// equal. The envelope's ts_* are processing times and differ too.
var dbzAvroSourceDiffers = map[string]bool{"version": true, "ts_ms": true, "ts_us": true, "ts_ns": true, "thread": true, "query": true}

func compareDbzAvro(t *testing.T, i int, trib, dbz dbzAvroMessage) {
	t.Helper()
	what := fmt.Sprintf("message %d", i)
	for _, d := range treeDiff("key schema", trib.keySchema, dbz.keySchema) {
		t.Errorf("%s: %s", what, d)
	}
	for _, d := range treeDiff("value schema", trib.valueSchema, dbz.valueSchema) {
		t.Errorf("%s: %s", what, d)
	}
	for _, d := range treeDiff("key", trib.key, dbz.key) {
		t.Errorf("%s: %s", what, d)
	}
	if (trib.value == nil) != (dbz.value == nil) {
		t.Errorf("%s: tombstone: Tributary %v, Debezium %v", what, trib.value == nil, dbz.value == nil)
		return
	}
	if trib.value == nil {
		return
	}
	tv, dv := normaliseDbzAvro(trib.value), normaliseDbzAvro(dbz.value)
	for _, d := range treeDiff("value", tv, dv) {
		t.Errorf("%s (op %v): %s", what, trib.value["op"], d)
	}
}

// normaliseDbzAvro is a decoded envelope without the values that differ
// legitimately (dbzAvroSourceDiffers, the envelope's ts_*).
func normaliseDbzAvro(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		switch k {
		case "ts_ms", "ts_us", "ts_ns":
			continue
		case "source":
			src, _ := x.(map[string]any)
			kept := map[string]any{}
			for f, fv := range src {
				if !dbzAvroSourceDiffers[f] {
					kept[f] = fv
				}
			}
			x = kept
		}
		out[k] = x
	}
	return out
}

// treeDiff lists every difference between two decoded trees (JSON or
// hamba/avro generic values), by path.
func treeDiff(path string, a, b any) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			xv, xok := x[k]
			yv, yok := y[k]
			p := path + "." + k
			if name, ok := x["name"].(string); ok && k != "name" {
				p = path + "(" + name + ")." + k
			}
			switch {
			case !xok:
				out = append(out, fmt.Sprintf("%s: only Debezium's: %s", p, enc(yv)))
			case !yok:
				out = append(out, fmt.Sprintf("%s: only Tributary's: %s", p, enc(xv)))
			default:
				out = append(out, treeDiff(p, xv, yv)...)
			}
		}
		return out
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			break
		}
		var out []string
		for i := range x {
			out = append(out, treeDiff(fmt.Sprintf("%s[%d]", path, i), x[i], y[i])...)
		}
		return out
	case *big.Rat:
		if y, ok := b.(*big.Rat); ok && x.Cmp(y) == 0 {
			return nil
		}
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{fmt.Sprintf("%s: Tributary %s, Debezium %s", path, enc(a), enc(b))}
}
