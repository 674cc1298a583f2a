package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// format: debezium writes Debezium's JsonConverter envelope: the envelope
// fields, the MariaDB connector's source block, a tombstone after a delete.
func TestDebeziumFormatEnvelope(t *testing.T) {
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db, fmt.Sprintf("CREATE TABLE %s.orders (id INT PRIMARY KEY, total DECIMAL(10,2), placed DATETIME(6), note VARCHAR(20))", s.Database))
	topic := s.topic("orders")
	createTopics(t, 1, topic)
	c := collect(t, 1, topic)
	cfg := s.writeConfigWith(t, "", fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.orders"]
    format: debezium
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	testenv.Exec(t, db,
		fmt.Sprintf("INSERT INTO %s.orders VALUES (1, 12.50, '2024-01-31 23:59:59.123456', 'first')", s.Database),
		fmt.Sprintf("UPDATE %s.orders SET total = 13.00 WHERE id = 1", s.Database),
		fmt.Sprintf("DELETE FROM %s.orders WHERE id = 1", s.Database))
	testenv.Eventually(t, time.Minute, "3 Debezium events and a tombstone", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.values) >= 3 && c.tombstones >= 1
	})
	ops := []string{}
	for i, raw := range c.raw() {
		var env struct {
			Before, After map[string]any
			Source        map[string]any
			Op            string
			TsMs          int64 `json:"ts_ms"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		ops = append(ops, env.Op)
		if env.Source["connector"] != "mariadb" || env.Source["db"] != s.Database || env.Source["table"] != "orders" || env.TsMs == 0 {
			t.Errorf("event %d: source %v, ts_ms %d", i, env.Source, env.TsMs)
		}
		if i == 0 && (env.After["total"] != "12.50" || env.After["placed"] != float64(1706745599123456)) {
			t.Errorf("insert after = %v, want total \"12.50\" (decimal.handling.mode=string) and placed as MicroTimestamp", env.After)
		}
	}
	if strings.Join(ops, ",") != "c,u,d" {
		t.Fatalf("ops = %v, want c,u,d", ops)
	}
	d.stop(t)
}
