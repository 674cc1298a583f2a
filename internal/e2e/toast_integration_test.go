package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// toastEvent adds the absent lists to event.
type toastEvent struct {
	Op     string                     `json:"op"`
	After  map[string]json.RawMessage `json:"after"`
	Absent struct {
		After []string `json:"after"`
	} `json:"absent"`
}

// toastText is a 100,000-character value; the column's storage is
// EXTERNAL (out of line, uncompressed), so every update that leaves it
// alone sends it as unchanged TOAST under the default replica identity.
func toastText(c byte) string {
	return strings.Repeat(string(c)+"0123456789abcdefghijklmnopqrstuvwxyz", 100_000/37+1)[:100_000]
}

// TestPostgresToastFill: with postgres.toast fill (the default) and the
// default replica identity, an update of a non-TOAST column carries the
// full text of the untouched 100,000-character column — for a row inserted
// while the daemon runs, again after the daemon was SIGKILLed and
// restarted (the cache is durable), and for a row that existed before the
// daemon started once the snapshot read it. A pre-existing row of a table
// not snapshotted stays absent, and tributary_toast_unfilled_total says so.
// The Debezium format carries the filled value too.
func TestPostgresToastFill(t *testing.T) {
	schema := func(tbl string) []string {
		return []string{
			"CREATE TABLE " + tbl + " (id int PRIMARY KEY, n int NOT NULL, body text)",
			"ALTER TABLE " + tbl + " ALTER body SET STORAGE EXTERNAL",
		}
	}
	s, c := preparePGTables(t, []string{"docs", "late"}, append(schema("docs"), schema("late")...)...)
	a, b, old := toastText('a'), toastText('b'), toastText('o')
	testenv.Exec(t, s.db,
		"INSERT INTO docs VALUES (1, 0, '"+old+"')",
		"INSERT INTO late VALUES (1, 0, '"+old+"')")
	cfg := s.setup.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond)+
		"    snapshot: {mode: initial, tables: [public.docs]}\n")

	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	waitToastEvent(t, c, s.pgTopic("docs"), 1, 0, "r") // the snapshot read the old row
	testenv.Exec(t, s.db,
		"INSERT INTO docs VALUES (2, 0, '"+a+"')",
		"UPDATE docs SET n = 1 WHERE id = 2",
		"UPDATE docs SET n = 1 WHERE id = 1",
		"UPDATE late SET n = 1 WHERE id = 1")
	requireBody(t, waitToastEvent(t, c, s.pgTopic("docs"), 2, 1, "u"), a, "row inserted while running")
	requireBody(t, waitToastEvent(t, c, s.pgTopic("docs"), 1, 1, "u"), old, "pre-existing row after the snapshot")
	late := waitToastEvent(t, c, s.pgTopic("late"), 1, 1, "u")
	if _, ok := late.After["body"]; ok || !contains(late.Absent.After, "body") {
		t.Fatalf("pre-existing row without a snapshot: after has body %v, absent.after %v; want it absent", ok, late.Absent.After)
	}
	testenv.Eventually(t, 10*time.Second, "tributary_toast_unfilled_total to count the absent column", func() bool {
		v, _ := d.metric(t, `tributary_toast_unfilled_total{source="`+s.Source+`"}`)
		return v >= 1
	})
	// The lag loop also reports the slot's retained WAL (the alert on
	// max_slot_wal_keep_size reads its neighbours).
	testenv.Eventually(t, 15*time.Second, "tributary_slot_retained_wal_bytes", func() bool {
		_, ok := d.metric(t, `tributary_slot_retained_wal_bytes{source="`+s.Source+`"}`)
		return ok
	})

	// A change of the text, then SIGKILL: the restarted daemon fills from
	// the cache it wrote before.
	testenv.Exec(t, s.db, "UPDATE docs SET body = '"+b+"', n = 2 WHERE id = 2")
	waitToastEvent(t, c, s.pgTopic("docs"), 2, 2, "u")
	d.kill9(t)
	testenv.Exec(t, s.db, "UPDATE docs SET n = 3 WHERE id = 2")
	d = startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	requireBody(t, waitToastEvent(t, c, s.pgTopic("docs"), 2, 3, "u"), b, "after SIGKILL and restart")
	d.stop(t)

	// The Debezium format carries the filled value, not Debezium's
	// unavailable-value placeholder.
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("    format: debezium\n"); err != nil { // the source block ends the file
		t.Fatal(err)
	}
	f.Close()
	d = startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	testenv.Exec(t, s.db, "UPDATE docs SET n = 4 WHERE id = 2")
	requireBody(t, waitToastEvent(t, c, s.pgTopic("docs"), 2, 4, "u"), b, "Debezium format")
	d.stop(t)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// waitToastEvent waits for the event of table's row id with column n = v and
// operation op.
func waitToastEvent(t *testing.T, c *collector, topic string, id, n int, op string) toastEvent {
	t.Helper()
	var found toastEvent
	testenv.Eventually(t, 30*time.Second, "the "+op+" event of "+topic+" id "+strconv.Itoa(id)+" n "+strconv.Itoa(n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, ev := range c.events {
			if ev.Source.Table == "" || !strings.HasSuffix(topic, "."+ev.Source.Table) {
				continue
			}
			if ev.Op != op || string(ev.After["id"]) != strconv.Itoa(id) || string(ev.After["n"]) != strconv.Itoa(n) {
				continue
			}
			if err := json.Unmarshal(c.values[i], &found); err != nil {
				t.Fatal(err)
			}
			return true
		}
		return false
	})
	return found
}

func requireBody(t *testing.T, ev toastEvent, want, what string) {
	t.Helper()
	var got string
	if raw, ok := ev.After["body"]; !ok {
		t.Fatalf("%s: body absent from the after image (absent.after %v)", what, ev.Absent.After)
	} else if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: body %.40s: %v", what, raw, err)
	}
	if got != want {
		t.Fatalf("%s: body has %d characters starting %.20q, want %d starting %.20q", what, len(got), got, len(want), want)
	}
}
