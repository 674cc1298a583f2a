package verify

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/testenv"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// A mapped table (renamed and masked columns, a dropped one, a routed
// topic, a key naming the source) is compared as the daemon writes it:
// the events the daemon's encoder made agree, and a forged image or a row
// deleted without an event is found under its mapped key.
func TestVerifyComparesAfterTheMapping(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, acctDDL, acctRows(1, 20))
	r := testReader(t, name)
	prefix := testenv.UniqueName(t, "vp")
	routed := prefix + ".canonical.account"
	m, err := mapping.Compile([]mapping.Config{{
		Source: testSourceName, Table: name + ".acct", Entity: "account",
		Rename: map[string]string{"name": "full_name"},
		Mask:   map[string]mapping.Mask{"full_name": {Kind: mapping.MaskKeepLast, N: 3}},
		Drop:   []string{"raw"},
		Topic:  routed,
	}}, os.LookupEnv, mapping.WithTopicPrefix(prefix), mapping.WithSources(testSourceName))
	if err != nil {
		t.Fatal(err)
	}
	cfg := encode.Config{Source: testSourceName, Connector: transform.ConnectorMySQL, TopicPrefix: prefix, Tombstones: true, Mapper: m}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}}
	if err := kafkasink.EnsureTopic(ctx, client, routed, 3, 1); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, routed)
	enc := encode.New(cfg)
	out := &collectOut{}
	send := func(c *capture.Change) {
		t.Helper()
		p.n++
		c.EventPosition, c.RowIndex, c.Position = "test", p.n, "test"
		out.msgs = out.msgs[:0]
		if _, err := enc.Change(context.Background(), c, time.Now(), out); err != nil {
			t.Fatal(err)
		}
		p.write(out.msgs...)
	}
	var after []any
	for {
		tbl, rows, err := r.ReadChunk(ctx, name, "acct", after, 8)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			send(&capture.Change{Op: capture.OpRead, Table: tbl, After: row, Snapshot: true})
		}
		if len(rows) < 8 {
			break
		}
		after = []any{rows[len(rows)-1][0]}
	}

	opts := Options{
		Source: r, SourceName: testSourceName, Brokers: []string{testenv.KafkaAddr()}, TopicPrefix: prefix,
		Encode: &cfg, Rechecks: 2, RecheckWait: 100 * time.Millisecond,
	}
	tr := run(t, opts)
	if tr.Differences() != 0 || tr.Rows != 20 || tr.TopicKeys != 20 || tr.TopicMissing || len(tr.Topics) != 2 {
		t.Fatalf("mapped table: %+v, want 20 rows agreeing on %s", tr, routed)
	}

	testenv.Exec(t, db, "SET SESSION sql_log_bin = 0", "DELETE FROM acct WHERE id = 7", "SET SESSION sql_log_bin = 1")
	tbl, row11 := readRow(t, r, name, "acct", `{"id":11}`)
	forged := append([]any(nil), row11...)
	forged[1] = "someone else"
	send(&capture.Change{Op: capture.OpUpdate, Table: tbl, Before: row11, After: forged})
	tr = run(t, opts)
	if tr.Extra.Count != 1 || tr.Extra.Keys[0] != `{"source":"vt","id":7}` ||
		tr.Differing.Count != 1 || tr.Differing.Keys[0] != `{"source":"vt","id":11}` || tr.Missing.Count != 0 {
		t.Fatalf("tampered mapped table: extra %v, differing %v, missing %v; want the mapped keys of 7 and 11",
			tr.Extra.Keys, tr.Differing.Keys, tr.Missing.Keys)
	}
}

// collectOut keeps an encoder's messages for Kafka.
type collectOut struct{ msgs []kafka.Message }

func (o *collectOut) Emit(m encode.Out) error {
	o.msgs = append(o.msgs, kafka.Message{Key: m.Key, Value: m.Value})
	return nil
}
