package transform

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// benchChange is an update of a typical order row whose after image encodes
// to about 300 bytes.
func benchChange() *capture.Change {
	tab := &capture.Table{
		Database: "shop",
		Name:     "orders",
		Columns: []capture.Column{
			{Name: "id", Type: "bigint unsigned"}, {Name: "customer_id", Type: "bigint"},
			{Name: "status", Type: "enum"}, {Name: "total", Type: "decimal(12,2)"},
			{Name: "currency", Type: "char(3)"}, {Name: "weight", Type: "double"},
			{Name: "paid", Type: "tinyint(1)"}, {Name: "note", Type: "text"},
			{Name: "tags", Type: "set"}, {Name: "attrs", Type: "json"},
			{Name: "checksum", Type: "binary(16)"}, {Name: "created_at", Type: "datetime(6)"},
			{Name: "updated_at", Type: "timestamp(6)"}, {Name: "deleted_at", Type: "datetime"},
		},
		Key: []int{0},
	}
	row := []any{
		uint64(9_007_199_254_740_993), int64(-42), "shipped", "1234.50", "EUR", 2.75, true,
		"Leave at door 📦", []string{"gift", "express"},
		json.RawMessage(`{"gift_wrap":true,"lines":3}`),
		[]byte("0123456789abcdef"), "2024-01-31 23:59:59.123456", "2024-01-31T22:59:59.123456Z", nil,
	}
	before := append([]any(nil), row...)
	before[2] = "paid"
	return &capture.Change{
		Op: capture.OpUpdate, Table: tab, Before: before, After: row,
		Position: "binlog.000003:1000", EventPosition: "binlog.000003:1200", RowIndex: 0,
		ServerID: 1, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
		CommitTime: time.Unix(1706745599, 0),
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	evs, err := Build("main", ConnectorMySQL, benchChange(), time.Unix(1706745600, 0))
	if err != nil {
		b.Fatal(err)
	}
	ev := &evs[0]
	after, _ := ev.After.AppendJSON(nil)
	buf, err := ev.AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("after image %d bytes, event %d bytes", len(after), len(buf))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = ev.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	c := benchChange()
	now := time.Unix(1706745600, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build("main", ConnectorMySQL, c, now); err != nil {
			b.Fatal(err)
		}
	}
}
