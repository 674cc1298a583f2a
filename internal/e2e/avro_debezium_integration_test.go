package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The debezium flavour of format avro: the MariaDB types torture tables,
// decoded through the registry, hold exactly the values of format
// debezium's JSON payload from a second source on the same tables.
func TestAvroDebeziumEnvelopeEqualsDebeziumJSONMariaDB(t *testing.T) {
	url := testenv.RegistryURL(t)
	s := newSetup(t)
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
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
	block := func(name string, id uint32, format string) string {
		return fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    format: %s
    avro: {envelope: debezium}
    debezium: {connector: mariadb, topic_prefix: dbz}
`, name, testenv.MySQLAddr(), testenv.MySQLCDCUser, id, s.Database, format)
	}
	jsonSrc, avroSrc := s.Source+"j", s.Source+"a"
	topic := func(src, table string) string { return s.Prefix + "." + src + "." + s.Database + "." + table }
	createTopics(t, 1, topic(jsonSrc, "types"), topic(avroSrc, "types"), topic(jsonSrc, "edge"), topic(avroSrc, "edge"))
	cfg := s.writeConfigWith(t, "", block(jsonSrc, s.ServerID, "debezium")+block(avroSrc, testenv.ServerID(), "avro"))
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	// Streamed, not snapshotted: format debezium does not encode snapshot
	// rows' event ids yet (in JSON either).
	w, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	execConn(t, w, "SET time_zone = '"+halfHourOffset+"'", "SET SESSION sql_mode = ''")
	for _, row := range mysqlSnapRows {
		execConn(t, w, fmt.Sprintf(row, s.Database))
	}
	w.Close()
	dec := newAvroDecoder(t, url, false)
	for tbl, n := range map[string]int{"types": 3, "edge": 7} {
		jsonRecs := readTopicN(t, topic(jsonSrc, tbl), n)
		avroRecs := readTopicN(t, topic(avroSrc, tbl), n)
		want := map[string]any{}
		for _, r := range jsonRecs {
			var ev struct {
				After map[string]any `json:"after"`
			}
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprint(ev.After["id"])] = ev.After
		}
		for _, r := range avroRecs {
			_, sch, v := dec.decode(t, r.Value)
			if name := sch.(*avro.RecordSchema).FullName(); name != "dbz."+s.Database+".types.Envelope" && name != "dbz."+s.Database+".edge.Envelope" {
				t.Errorf("value record %s, want Debezium's dbz.<db>.<table>.Envelope", name)
			}
			after := unwrapRecord(v["after"])
			got := jsonRoundTrip(t, after)
			id := fmt.Sprint(got["id"])
			if !reflect.DeepEqual(got, want[id]) {
				t.Errorf("%s id %s:\n Avro: %v\n JSON: %v", tbl, id, got, want[id])
			}
		}
	}
	// tail prints Debezium-Avro messages as JSON through the registry.
	out, err := runCLI(t, "tail", "-c", cfg, "--source", avroSrc, "--from-beginning", "--max", "1", "--timeout", "30s")
	if err != nil || !strings.Contains(out, `"op":"c"`) || !strings.Contains(out, `"connector":"mariadb"`) {
		t.Errorf("tail of a Debezium-Avro topic: %v\n%s", err, out)
	}
	d.stop(t)
}

// unwrapRecord is a decoded nullable record: hamba/avro may give
// {"<full name>": record}.
func unwrapRecord(v any) map[string]any {
	m, _ := v.(map[string]any)
	if len(m) == 1 {
		for _, inner := range m {
			if r, ok := inner.(map[string]any); ok {
				return r
			}
		}
	}
	return m
}

// jsonRoundTrip is v as encoding/json reads it back (bytes as base64, as
// Debezium's JsonConverter writes them; nested records unwrapped).
func jsonRoundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	for k, x := range v {
		if m, ok := x.(map[string]any); ok {
			v[k] = unwrapRecord(m)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
