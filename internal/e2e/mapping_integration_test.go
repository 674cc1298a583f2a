package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The CRM's MariaDB customers and the order system's PostgreSQL customers
// come out as one canonical entity on one topic, phone numbers masked; a row
// a cast cannot handle goes to the dead-letter topic and the stream goes on.
func TestMappingUnifiesSourcesMasksAndDeadLetters(t *testing.T) {
	s := newSetup(t)
	mdb, _ := prepare(t, s)
	testenv.Exec(t, mdb, fmt.Sprintf("CREATE TABLE %s.customers (id INT PRIMARY KEY, name VARCHAR(50), phone VARCHAR(20), vip TINYINT)", s.Database))
	pg, _ := preparePG(t)
	testenv.Exec(t, pg.db,
		"CREATE TABLE customers (customer_id INT PRIMARY KEY, full_name TEXT, phone TEXT)",
		"GRANT SELECT ON customers TO "+testenv.PGCDCUser,
		"ALTER PUBLICATION "+pg.publication()+" ADD TABLE customers")

	canonical := "canon_" + s.Database + ".customer"
	dlq := "dlq_" + s.Database
	createTopics(t, 3, canonical, dlq)
	c := collect(t, 3, canonical, dlq)

	pgSource := pg.Source + "pg"
	sources := fmt.Sprintf(`
  - name: %[1]s
    addr: %[2]q
    user: %[3]s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %[4]d
    include: ["%[5]s.customers"]
  - name: %[6]s
    kind: postgres
    addr: %[7]q
    user: %[8]s
    password_env: TRIBUTARY_TEST_PASSWORD
    database: %[9]s
    slot: %[10]s
    publication: %[11]s
    create_publication: false
    include: ["public.customers"]
    status_interval: 200ms
mappings:
  - source: %[1]s
    table: %[5]s.customers
    entity: customer
    rename: {name: full_name}
    mask: {phone: {kind: keep_last, n: 4}}
    cast: {vip: bool}
    add: {system: crm}
    topic: %[12]s
  - source: %[6]s
    table: public.customers
    entity: customer
    rename: {customer_id: id}
    mask: {phone: {kind: keep_last, n: 4}}
    add: {system: orders}
    topic: %[12]s
`, s.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database,
		pgSource, testenv.PGAddr(), testenv.PGCDCUser, pg.Database, pg.slot(), pg.publication(), canonical)
	cfg := s.writeConfigWith(t, "  dead_letter_topic: "+dlq, sources)
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t) // both sources

	testenv.Exec(t, mdb,
		fmt.Sprintf("INSERT INTO %s.customers VALUES (42, 'Zoë Adler', '+49-555-123-4567', 1)", s.Database),
		fmt.Sprintf("INSERT INTO %s.customers VALUES (43, 'Bad Flag', '+49-555-987-6543', 7)", s.Database), // vip=7 cannot be a bool
		fmt.Sprintf("INSERT INTO %s.customers VALUES (44, 'After Bad', '+49-555-222-3333', 0)", s.Database))
	testenv.Exec(t, pg.db, "INSERT INTO customers VALUES (42, 'Ünal Gıda', '+90-555-444-5555')")

	var raws [][]byte
	deadline := time.Now().Add(time.Minute)
	for raws = c.raw(); len(raws) < 4; raws = c.raw() {
		if time.Now().After(deadline) {
			_, errs := c.snapshot()
			t.Fatalf("want 3 canonical events and 1 dead letter, got %d messages (read errors %v):\n%s", len(raws), errs, bytes.Join(raws, []byte("\n")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var canon []map[string]json.RawMessage
	var dead []string
	for _, r := range raws {
		for _, clear := range []string{"555-123", "555-987", "555-222", "555-444"} {
			if bytes.Contains(r, []byte(clear)) {
				t.Errorf("a masked phone number appears in clear in Kafka: %s", r)
			}
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(r, &ev); err != nil {
			t.Fatal(err)
		}
		if _, ok := ev["reason"]; ok {
			dead = append(dead, string(r))
			continue
		}
		canon = append(canon, ev)
	}
	if len(dead) != 1 || !strings.Contains(dead[0], "vip") {
		t.Fatalf("dead letters = %v, want one for the vip=7 row naming the cast", dead)
	}
	keys := map[string]string{}
	for _, ev := range canon {
		keys[string(ev["key"])] = string(ev["after"])
		if string(ev["entity"]) != `"customer"` {
			t.Errorf("entity = %s, want customer", ev["entity"])
		}
	}
	wantKeys := []string{
		fmt.Sprintf(`{"source":%q,"id":42}`, s.Source),
		fmt.Sprintf(`{"source":%q,"id":44}`, s.Source),
		fmt.Sprintf(`{"source":%q,"id":42}`, pgSource),
	}
	for _, k := range wantKeys {
		after, ok := keys[k]
		if !ok {
			t.Errorf("no canonical event with key %s; got %v", k, keys)
			continue
		}
		if !strings.Contains(after, `"full_name":`) || !strings.Contains(after, `"system":`) {
			t.Errorf("key %s: after %s lacks the canonical fields", k, after)
		}
	}
	if after := keys[wantKeys[0]]; !strings.Contains(after, `"phone":"************4567"`) || !strings.Contains(after, `"vip":true`) {
		t.Errorf("crm customer 42: after %s, want the phone masked to its last 4 and vip cast to true", after)
	}
	// /metrics counts the dead letter by kind (the console's figure).
	if n, _ := d.metric(t, `tributary_dead_letters_total{kind="mapping",source="`+s.Source+`"}`); n != 1 {
		t.Errorf("tributary_dead_letters_total{kind=mapping} = %v, want 1", n)
	}
	d.stop(t)
}
