package pipeline

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

const (
	txTopic     = "cdc.transactions"
	schemaTopic = "cdc.schema"
)

var ordersTable = &capture.Table{Database: "shop", Name: "orders", Key: []int{0},
	Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar(20)"}}}

// inTx sets the transaction id of a change step and, when table is not
// nil, its table.
func inTx(s step, txid string, table *capture.Table) step {
	c := *s.change
	c.TxID = txid
	if table != nil {
		c.Table = table
	}
	s.change = &c
	return s
}

// summary is one message in a test's words: "BEGIN <id>", "END <id> <n>
// <db.table>=<k> ...", "SCHEMA <database> <ddl>", "event <topic>" or
// "tombstone <topic>".
func summary(t *testing.T, m sink.Message) string {
	t.Helper()
	switch m.Topic {
	case txTopic:
		var r struct {
			Status          string `json:"status"`
			ID              string `json:"id"`
			Source          string `json:"source"`
			TsMs            int64  `json:"ts_ms"`
			EventCount      *int   `json:"event_count"`
			DataCollections []struct {
				Name   string `json:"data_collection"`
				Events int    `json:"event_count"`
			} `json:"data_collections"`
		}
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatalf("transaction record %s: %v", m.Value, err)
		}
		if want := `{"id":"` + r.ID + `"}`; string(m.Key) != want {
			t.Errorf("transaction record key %s, want %s", m.Key, want)
		}
		if r.Source != "main" || r.TsMs != 1700000000000 {
			t.Errorf("transaction record %s: want source main, ts_ms 1700000000000", m.Value)
		}
		if r.Status == "BEGIN" {
			if r.EventCount != nil || r.DataCollections != nil {
				t.Errorf("BEGIN record %s has END fields", m.Value)
			}
			return "BEGIN " + r.ID
		}
		s := []string{r.Status, r.ID}
		if r.EventCount != nil {
			s = append(s, strconv.Itoa(*r.EventCount))
		}
		for _, d := range r.DataCollections {
			s = append(s, d.Name+"="+strconv.Itoa(d.Events))
		}
		return strings.Join(s, " ")
	case schemaTopic:
		var r map[string]any
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatalf("schema record %s: %v", m.Value, err)
		}
		if want := `{"database":"` + r["database"].(string) + `"}`; string(m.Key) != want {
			t.Errorf("schema record key %s, want %s", m.Key, want)
		}
		return "SCHEMA " + string(m.Value)
	}
	if m.Value == nil {
		return "tombstone " + m.Topic
	}
	return "event " + m.Topic
}

func TestTransactionMetadataAndSchemaRecords(t *testing.T) {
	t.Parallel()
	filterAnn, err := mapping.Compile([]mapping.Config{{Table: "shop.orders", Filter: "after.name != 'ann'"}}, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	const users, orders = "event cdc.main.shop.users", "event cdc.main.shop.orders"
	schema := capture.SchemaChange{Database: "shop", Statement: "ALTER TABLE users ADD note TEXT",
		Position: "T1", CommitTime: time.Unix(1700000000, 0)}
	tests := []struct {
		name        string
		txTopic     string
		schemaTopic string
		mapper      *mapping.Mapper
		steps       []step
		final       string
		want        []string
	}{
		{
			name: "two tables, counts per table", txTopic: txTopic,
			steps: []step{
				inTx(ins("T1", 1), "g-1", nil), inTx(ins("T1", 2), "g-1", ordersTable),
				inTx(del("T1", 3), "g-1", nil), commit("T1"),
			},
			final: "T1",
			want: []string{"BEGIN g-1", users, orders, users, "tombstone cdc.main.shop.users",
				"END g-1 3 shop.users=2 shop.orders=1"},
		},
		{
			name: "one record pair per transaction", txTopic: txTopic,
			steps: []step{
				inTx(ins("T1", 1), "g-1", nil), commit("T1"),
				commit("T2"), // a heartbeat or a transaction of other tables
				inTx(ins("T3", 2), "g-3", ordersTable), inTx(ins("T3", 3), "g-3", ordersTable), commit("T3"),
			},
			final: "T3",
			want: []string{"BEGIN g-1", users, "END g-1 1 shop.users=1",
				"BEGIN g-3", orders, orders, "END g-3 2 shop.orders=2"},
		},
		{
			name: "without a txid the position names the transaction", txTopic: txTopic,
			steps: []step{ins("T1", 1), commit("T1")},
			final: "T1",
			want:  []string{"BEGIN T1", users, "END T1 1 shop.users=1"},
		},
		{
			name: "filtered transaction leaves no records", txTopic: txTopic, mapper: filterAnn,
			steps: []step{
				inTx(ins("T1", 1), "g-1", ordersTable), commit("T1"),
				inTx(ins("T2", 2), "g-2", ordersTable), inTx(ins("T2", 3), "g-2", nil), commit("T2"),
			},
			final: "T2",
			want:  []string{"BEGIN g-2", users, "END g-2 1 shop.users=1"},
		},
		{
			name: "schema change", schemaTopic: schemaTopic,
			steps: []step{{schema: &schema}, commit("T1")},
			final: "T1",
			want:  []string{`SCHEMA {"source":"main","database":"shop","ddl":"ALTER TABLE users ADD note TEXT","position":"T1","ts_ms":1700000000000}`},
		},
		{
			name: "both off", steps: []step{{schema: &schema}, inTx(ins("T2", 1), "g-2", nil), commit("T2")},
			final: "T2",
			want:  []string{users},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.TransactionTopic, cfg.SchemaChangeTopic, cfg.Mapper = tt.txTopic, tt.schemaTopic, tt.mapper
			snks := &sinks{setup: func(_ int, s *fakeSink) error { s.onWrite = ackOnWrite; return nil }}
			store := &memStore{}
			start(t, newPipeline(cfg, scripted(tt.steps), snks, store))
			eventually(t, "the last transaction is committed", func() bool { return store.position() == tt.final })

			var got []string
			for _, m := range snks.attempt(0).Messages() {
				got = append(got, summary(t, m))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// The checkpoint moves past a transaction only once its END record, and a
// schema change's record, are acked, like its events.
func TestCheckpointWaitsForMetadataRecords(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TransactionTopic, cfg.SchemaChangeTopic = txTopic, schemaTopic
	schema := capture.SchemaChange{Database: "shop", Statement: "ALTER TABLE users ADD note TEXT", Position: "T1"}
	srcs := scripted([]step{inTx(ins("T1", 1), "g-1", nil), commit("T1"), {schema: &schema}, commit("T2")})
	snks := &sinks{}
	store := &memStore{}
	start(t, newPipeline(cfg, srcs, snks, store))
	eventually(t, "every message is written", func() bool {
		snk := snks.attempt(0)
		return snk != nil && snk.written() == 4
	})
	snk := snks.attempt(0)
	msgs := snk.Messages()
	if msgs[2].Topic != txTopic || msgs[3].Topic != schemaTopic {
		t.Fatalf("messages 3 and 4 on %s and %s, want END and the schema record", msgs[2].Topic, msgs[3].Topic)
	}

	snk.Ack(msgs[0].Seq, msgs[1].Seq) // BEGIN and the event, not END
	consistently(t, "no checkpoint without END acked", settle, func() bool { return store.position() == "" })
	snk.Ack(msgs[2].Seq)
	eventually(t, "T1 is committed once END is acked", func() bool { return store.position() == "T1" })
	consistently(t, "T2 waits for the schema record", settle, func() bool { return store.position() == "T1" })
	snk.Ack(msgs[3].Seq)
	eventually(t, "T2 is committed once the schema record is acked", func() bool { return store.position() == "T2" })
}
