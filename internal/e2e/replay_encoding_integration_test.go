package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// `tributary replay` writes what the live stream wrote: a masked column
// stays masked and a Debezium-format source replays Debezium envelopes.
// The replay topic's messages equal the live topic's, key and value, apart
// from the processing timestamps.
func TestReplayWritesWhatTheLiveStreamWrote(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
	}{
		{"masked", "mappings:\n  - source: %[1]s\n    table: %[2]s.customers\n    mask: {phone: {kind: keep_last, n: 4}}\n"},
		{"debezium", "    format: debezium\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			db, _ := prepare(t, s)
			testenv.Exec(t, db, fmt.Sprintf("CREATE TABLE %s.customers (id INT PRIMARY KEY, phone VARCHAR(20))", s.Database))
			live, replayTopic := s.topic("customers"), s.Prefix+".replay"
			createTopics(t, 1, live, replayTopic)
			sources := fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.customers", "%s.t1"]
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database, s.Database)
			if strings.HasPrefix(tt.extra, "mappings") {
				sources += fmt.Sprintf(tt.extra, s.Source, s.Database)
			} else {
				sources += tt.extra
			}
			cfg := s.writeConfigWith(t, "", sources)
			d := startDaemon(t, "run", "-c", cfg)
			d.waitStreaming(t)

			from := masterStatus(t, db)
			testenv.Exec(t, db,
				fmt.Sprintf("INSERT INTO %s.customers VALUES (1, '+90-555-111-2222'), (2, '+90-555-333-4444')", s.Database),
				fmt.Sprintf("UPDATE %s.customers SET phone = '+90-555-999-8888' WHERE id = 1", s.Database),
				fmt.Sprintf("DELETE FROM %s.customers WHERE id = 2", s.Database))
			to := masterStatus(t, db)
			// A commit past --to, where the replay stops.
			testenv.Exec(t, db, fmt.Sprintf("INSERT INTO %s.t1 VALUES (1, 1, 'end')", s.Database))
			const n = 5 // 2 inserts, 1 update, 1 delete, 1 tombstone
			want := readRecords(t, live, time.Minute, func(m []testenv.Record) bool { return len(m) >= n })

			out, err := runCLI(t, "replay", "-c", cfg, "--source", s.Source, "--from", from, "--to", to, "--topic", replayTopic)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, out)
			}
			got := readRecords(t, replayTopic, time.Minute, func(m []testenv.Record) bool { return len(m) >= n })
			if len(got) != len(want) {
				t.Fatalf("replay topic has %d messages, live %d", len(got), len(want))
			}
			for i := range want {
				if tt.name == "masked" && (bytes.Contains(got[i].Value, []byte("555-111")) || bytes.Contains(got[i].Value, []byte("555-999"))) {
					t.Errorf("replayed message %d shows a masked phone in clear: %s", i, got[i].Value)
				}
				if !bytes.Equal(got[i].Key, want[i].Key) || normalized(t, got[i].Value) != normalized(t, want[i].Value) {
					t.Errorf("message %d differs:\n live   %s %s\n replay %s %s", i, want[i].Key, want[i].Value, got[i].Key, got[i].Value)
				}
			}
			d.stop(t)
		})
	}
}

// masterStatus is the server's binlog position, a transaction boundary.
func masterStatus(t *testing.T, db *sql.DB) string {
	t.Helper()
	var file string
	var pos uint32
	var a, b any
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", file, pos)
}

// normalized is a message value without the processing timestamps, which
// differ between the live write and the replay by design.
func normalized(t *testing.T, v []byte) string {
	t.Helper()
	if v == nil {
		return "<tombstone>"
	}
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatalf("message %s: %v", v, err)
	}
	drop := func(m map[string]any) {
		for _, k := range []string{"ts_ms", "ts_us", "ts_ns"} {
			delete(m, k)
		}
	}
	drop(m)
	if p, ok := m["payload"].(map[string]any); ok {
		drop(p)
	}
	out, _ := json.Marshal(m)
	return string(out)
}
