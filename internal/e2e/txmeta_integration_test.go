package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// txRecord is a transaction metadata record as the tests read it.
type txRecord struct {
	Status          string `json:"status"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	TsMs            int64  `json:"ts_ms"`
	EventCount      int    `json:"event_count"`
	DataCollections []struct {
		Name   string `json:"data_collection"`
		Events int    `json:"event_count"`
	} `json:"data_collections"`
}

// schemaRecord is a schema-change record as the tests read it.
type schemaRecord struct {
	Source   string `json:"source"`
	Database string `json:"database"`
	DDL      string `json:"ddl"`
	Position string `json:"position"`
	TsMs     int64  `json:"ts_ms"`
}

// sideTopics turns on the transaction metadata and schema-change topics in
// the config at path, creates them with one partition and returns their
// names.
func (s *setup) sideTopics(t *testing.T, path string) (txTopic, schemaTopic string) {
	t.Helper()
	txTopic, schemaTopic = s.Prefix+".transactions", s.Prefix+".schema-changes"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("topics: {prefix: %q}", s.Prefix)
	if !strings.Contains(string(b), old) {
		t.Fatalf("config has no %q line", old)
	}
	cfg := strings.Replace(string(b), old, fmt.Sprintf("topics: {prefix: %q, transactions: %s, schema_changes: %s}", s.Prefix, txTopic, schemaTopic), 1)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	createTopics(t, 1, txTopic, schemaTopic)
	return txTopic, schemaTopic
}

// readRecords reads a one-partition topic from the start until until holds
// for the records read so far, failing the test after timeout.
func readRecords(t *testing.T, topic string, timeout time.Duration, until func([]testenv.Record) bool) []testenv.Record {
	t.Helper()
	return testenv.NewTopic(topic).ReadUntil(t, 0, kafka.FirstOffset, timeout, until)
}

func decodeRecord[T any](t *testing.T, m testenv.Record) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Value, &v); err != nil {
		t.Fatalf("record at offset %d (%s): %v", m.Offset, m.Value, err)
	}
	return v
}

// collections is an END record's data_collections as "table=count" items.
func collections(r txRecord) string {
	var s []string
	for _, d := range r.DataCollections {
		s = append(s, fmt.Sprintf("%s=%d", d.Name, d.Events))
	}
	return strings.Join(s, " ")
}

// MariaDB: a two-table transaction with savepoints gives one BEGIN and one
// END (with per-table counts) on the metadata topic, around events that
// carry the same txid; an ALTER TABLE gives a schema-change record.
func TestTxMetaMariaDBTransactionAndDDL(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	cfg := s.writeConfig(t, "")
	txTopic, schemaTopic := s.sideTopics(t, cfg)
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO %s.t1 VALUES (1, 1, 'a'), (2, 1, 'b')", s.Database),
		"SAVEPOINT s1",
		fmt.Sprintf("INSERT INTO %s.t2 VALUES (1, 1, 'n')", s.Database),
		"SAVEPOINT s2",
		fmt.Sprintf("INSERT INTO %s.t1 VALUES (3, 1, 'rolled back')", s.Database),
		"ROLLBACK TO SAVEPOINT s2",
		fmt.Sprintf("UPDATE %s.t1 SET v = 2 WHERE id = 1", s.Database),
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, db, fmt.Sprintf("ALTER TABLE %s.t1 ADD COLUMN extra INT NULL", s.Database))

	recs := readRecords(t, txTopic, time.Minute, func(m []testenv.Record) bool { return len(m) >= 2 })
	begin, end := decodeRecord[txRecord](t, recs[0]), decodeRecord[txRecord](t, recs[1])
	if begin.Status != "BEGIN" || end.Status != "END" || begin.ID == "" || end.ID != begin.ID {
		t.Fatalf("records %s, %s: want BEGIN and END of one transaction", recs[0].Value, recs[1].Value)
	}
	if begin.Source != s.Source || begin.TsMs == 0 || end.TsMs == 0 {
		t.Errorf("BEGIN %s: want source %s and ts_ms", recs[0].Value, s.Source)
	}
	if want := fmt.Sprintf(`{"id":%q}`, begin.ID); string(recs[0].Key) != want || string(recs[1].Key) != want {
		t.Errorf("keys %s, %s, want %s", recs[0].Key, recs[1].Key, want)
	}
	if want := fmt.Sprintf("%[1]s.t1=3 %[1]s.t2=1", s.Database); end.EventCount != 4 || collections(end) != want {
		t.Errorf("END %s: want event_count 4 and data_collections %s", recs[1].Value, want)
	}

	testenv.Eventually(t, time.Minute, "the transaction's 4 events", func() bool { return len(c.raw()) >= 4 })
	for _, raw := range c.raw() {
		var ev struct {
			Source struct {
				TxID string `json:"txid"`
			} `json:"source"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Source.TxID != begin.ID {
			t.Errorf("event %s: want source.txid %s (%v)", raw, begin.ID, err)
		}
	}

	sch := readRecords(t, schemaTopic, time.Minute, func(m []testenv.Record) bool { return len(m) >= 1 })
	r := decodeRecord[schemaRecord](t, sch[0])
	if r.Source != s.Source || r.Database != s.Database || !strings.Contains(r.DDL, "ADD COLUMN extra INT") || r.Position == "" || r.TsMs == 0 {
		t.Errorf("schema record %s: want source %s, database %s, the ALTER statement, a position and ts_ms", sch[0].Value, s.Source, s.Database)
	}
	if want := fmt.Sprintf(`{"database":%q}`, s.Database); string(sch[0].Key) != want {
		t.Errorf("schema record key %s, want %s", sch[0].Key, want)
	}
	d.stop(t)
}

// PostgreSQL sends no DDL: after ALTER TABLE ADD COLUMN, the relation
// description that precedes the next insert becomes a schema-change record
// describing the new definition.
func TestTxMetaPostgresRelationChange(t *testing.T) {
	s, c := preparePG(t)
	cfg := s.writeConfig(t)
	txTopic, schemaTopic := s.sideTopics(t, cfg)
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	testenv.Exec(t, s.db,
		"INSERT INTO t1 VALUES (1, 1, 'a')", // the relation's first description: no record
		"ALTER TABLE t1 ADD COLUMN extra text",
		"INSERT INTO t1 VALUES (2, 1, 'b', 'x')")

	// The first record must be the change: the first description of t1 in
	// the stream, before the ALTER, is not one.
	sch := readRecords(t, schemaTopic, time.Minute, func(m []testenv.Record) bool { return len(m) >= 1 })
	r := decodeRecord[schemaRecord](t, sch[0])
	if want := "RELATION public.t1 (id int4, v int4, payload varchar, extra text)"; r.DDL != want {
		t.Errorf("schema record ddl %q, want %q", r.DDL, want)
	}
	if r.Source != s.Source || r.Database != "public" || r.Position == "" || r.TsMs == 0 || string(sch[0].Key) != `{"database":"public"}` {
		t.Errorf("schema record %s key %s: want source %s, database public, a position and ts_ms", sch[0].Value, sch[0].Key, s.Source)
	}

	recs := readRecords(t, txTopic, time.Minute, func(m []testenv.Record) bool { return len(m) >= 4 })
	var got []string
	for _, m := range recs {
		rec := decodeRecord[txRecord](t, m)
		got = append(got, strings.TrimSpace(fmt.Sprintf("%s %d %s", rec.Status, rec.EventCount, collections(rec))))
	}
	if want := "BEGIN 0|END 1 public.t1=1|BEGIN 0|END 1 public.t1=1"; strings.Join(got, "|") != want {
		t.Errorf("transaction records %q, want %q", strings.Join(got, "|"), want)
	}
	testenv.Eventually(t, time.Minute, "both inserts", func() bool { return len(c.raw()) >= 2 })
	d.stop(t)
}
