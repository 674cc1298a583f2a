package mapping

import (
	"encoding/json"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// benchEvent is an update of an order row whose after image encodes to
// about 300 bytes.
func benchEvent(b *testing.B) *transform.Event {
	tab := custTable("shop", "orders", "id", "customer_id", "status", "total", "currency", "weight", "paid",
		"note", "tags", "attrs", "email", "created_at", "updated_at", "deleted_at")
	row := []any{
		uint64(9_007_199_254_740_993), int64(-42), "shipped", "1234.50", "EUR", 2.75, int64(1),
		"Leave at door 📦", []string{"gift", "express"}, json.RawMessage(`{"gift_wrap":true,"lines":3}`),
		"zoe@example.com", "2024-01-31 23:59:59.123456", "2024-01-31T22:59:59.123456Z", nil,
	}
	before := append([]any(nil), row...)
	before[2] = "paid"
	ev := &events(b, "shop", transform.ConnectorMySQL, tab, capture.OpUpdate, before, row)[0]
	if n := len(rowJSON(b, ev.After)); n < 250 || n > 350 {
		b.Fatalf("after image is %d bytes", n)
	}
	return ev
}

var benchRules = Config{
	Table:  "shop.orders",
	Rename: map[string]string{"customer_id": "customer"},
	Drop:   []string{"note"},
	Cast:   map[string]Cast{"total": {To: CastNumber}},
	Mask:   map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}},
}

func benchApply(b *testing.B, cfg Config, mapped bool) {
	m := mustCompile(b, cfg)
	ev := benchEvent(b)
	dst := make([]Output, 0, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, ok, err := m.Apply(dst[:0], "shop", ev)
		if err != nil || ok != mapped {
			b.Fatal(ok, err)
		}
		dst = out
	}
}

// BenchmarkApply: rename, drop, cast number, hash mask on both images.
func BenchmarkApply(b *testing.B) { benchApply(b, benchRules, true) }

// BenchmarkApplyFilter adds a filter on two columns to the four rules.
func BenchmarkApplyFilter(b *testing.B) {
	cfg := benchRules
	cfg.Filter = "after.status != 'deleted' && after.currency == 'EUR'"
	benchApply(b, cfg, true)
}

// BenchmarkApplyUnmapped is the cost for a table no mapping matches.
func BenchmarkApplyUnmapped(b *testing.B) {
	cfg := benchRules
	cfg.Table = "crm.*"
	benchApply(b, cfg, false)
}

// BenchmarkApplyEncode is Apply plus the JSON encoding the handler does.
func BenchmarkApplyEncode(b *testing.B) {
	m := mustCompile(b, benchRules)
	ev := benchEvent(b)
	dst := make([]Output, 0, 2)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := m.Apply(dst[:0], "shop", ev)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = out[0].AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}
