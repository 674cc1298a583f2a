package encode

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

// benchChange is a change of an order row; an update's or a delete's
// event encodes to about 500 bytes.
func benchChange(op capture.Op) *capture.Change {
	tab := &capture.Table{Database: "shop", Name: "orders", Key: []int{0},
		Columns: []capture.Column{{Name: "id", Type: "bigint unsigned"}, {Name: "customer_id", Type: "bigint"},
			{Name: "status", Type: "enum"}, {Name: "total", Type: "decimal(12,2)"}, {Name: "note", Type: "text"},
			{Name: "attrs", Type: "json"}, {Name: "created_at", Type: "datetime(6)"}}}
	row := []any{uint64(9007), int64(-42), "shipped", "1234.50", "Leave at door", json.RawMessage(`{"a":1}`), "2024-01-31 23:59:59.123456"}
	before := append([]any(nil), row...)
	before[2] = "paid"
	c := &capture.Change{Op: op, Table: tab, Position: "binlog.000003:1000", EventPosition: "binlog.000003:1200",
		TxID: "g-1", CommitTime: time.Unix(1706745599, 0)}
	switch op {
	case capture.OpUpdate:
		c.Before, c.After = before, row
	case capture.OpDelete:
		c.Before = before
	}
	return c
}

// queue is an Output like the pipeline's handler: it numbers messages and
// gathers them for the sink.
type queue struct {
	pending []sink.Message
	seq     uint64
}

func (q *queue) Emit(o Out) error {
	q.seq++
	o.Seq = q.seq
	q.pending = append(q.pending, o.Message)
	return nil
}

// BenchmarkChange is the pipeline's per-change path: build, encode,
// tombstone, queue.
// With format avro ("avro/u"), the registry is a fake answering from the
// encoder's id cache after the first event, as in the daemon.
func BenchmarkChange(b *testing.B) {
	for _, format := range []string{"json", "avro"} {
		for _, op := range []capture.Op{capture.OpUpdate, capture.OpDelete} {
			b.Run(format+"/"+string(op), func(b *testing.B) { benchChangeFormat(b, format, op) })
		}
	}
}

// fakeRegistrar hands out ids without a registry.
type fakeRegistrar struct{ calls int }

func (f *fakeRegistrar) Subject(topic, record string, isKey bool) string {
	if isKey {
		return topic + "-key"
	}
	return topic + "-value"
}

func (f *fakeRegistrar) Register(context.Context, string, string) (int, error) {
	f.calls++
	return f.calls, nil
}

func (f *fakeRegistrar) OnIncompatible() schemaregistry.OnIncompatible { return schemaregistry.Halt }

func benchChangeFormat(b *testing.B, format string, op capture.Op) {
	{
		{
			cfg := Config{Source: "main", Connector: transform.ConnectorMySQL, TopicPrefix: "cdc", Tombstones: true}
			if format == "avro" {
				cfg.Registry = &fakeRegistrar{}
			}
			e := New(cfg)
			q := &queue{}
			c := benchChange(op)
			now := time.Unix(1706745600, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Change(context.Background(), c, now, q); err != nil {
					b.Fatal(err)
				}
				if len(q.pending) >= 512 {
					q.pending = q.pending[:0]
				}
			}
		}
	}
}
