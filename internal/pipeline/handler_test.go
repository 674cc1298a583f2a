package pipeline

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

func TestDeleteTombstones(t *testing.T) {
	t.Parallel()
	// want is one message: "op key" for an event, "tombstone key" for a
	// tombstone.
	tests := []struct {
		name       string
		prefix     string
		tombstones bool
		step       step
		want       []string
	}{
		{"delete with tombstones", "cdc", true, del("T1", 7), []string{`d {"id":7}`, `tombstone {"id":7}`}},
		{"delete without tombstones", "cdc", false, del("T1", 7), []string{`d {"id":7}`}},
		{"delete without prefix", "", true, del("T1", 7), []string{`d {"id":7}`, `tombstone {"id":7}`}},
		{"insert", "cdc", true, ins("T1", 7), []string{`c {"id":7}`}},
		{"key change with tombstones", "cdc", true, rekey("T1", 7),
			[]string{`d {"id":7}`, `tombstone {"id":7}`, `c {"id":107}`}},
		{"key change without tombstones", "cdc", false, rekey("T1", 7), []string{`d {"id":7}`, `c {"id":107}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.TopicPrefix, cfg.Tombstones = tt.prefix, tt.tombstones
			srcs := scripted([]step{tt.step, commit("T1")})
			snks := &sinks{setup: func(_ int, s *fakeSink) error { s.onWrite = ackOnWrite; return nil }}
			store := &memStore{}
			start(t, newPipeline(cfg, srcs, snks, store))
			eventually(t, "the transaction is committed", func() bool { return store.position() == "T1" })

			topic := transform.TopicName(tt.prefix, "main", "shop", "users")
			var got []string
			for _, m := range snks.attempt(0).Messages() {
				if m.Topic != topic {
					t.Errorf("message on topic %q, want %q", m.Topic, topic)
				}
				got = append(got, describeMessage(t, m))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages = %q, want %q", got, tt.want)
			}
		})
	}
}

// describeMessage is "op key" for an event and "tombstone key" for a
// tombstone, checking that an event's key matches the key in its value.
func describeMessage(t *testing.T, m sink.Message) string {
	t.Helper()
	if m.Value == nil {
		return "tombstone " + string(m.Key)
	}
	var ev struct {
		Op  string          `json:"op"`
		Key json.RawMessage `json:"key"`
	}
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		t.Fatalf("message value is not JSON: %v", err)
	}
	if string(ev.Key) != string(m.Key) {
		t.Errorf("message key %s differs from the event's key %s", m.Key, ev.Key)
	}
	return ev.Op + " " + string(m.Key)
}

func TestBackpressure(t *testing.T) {
	t.Parallel()
	const rows = 8
	oneTxnPerRow := func() []step {
		var s []step
		for id := int64(1); id <= rows; id++ {
			s = append(s, txn(fmt.Sprintf("T%02d", id), id)...)
		}
		return s
	}
	oneBigTxn := func() []step {
		ids := make([]int64, rows)
		for i := range ids {
			ids[i] = int64(i + 1)
		}
		return txn("T01", ids...)
	}
	tests := []struct {
		name       string
		limit      int
		limitBytes int64 // 0: none; 1: every message fills it alone
		held       int   // messages in flight when the stream is held (0: limit)
		steps      []step
		final      string
	}{
		{"limit 1, transaction per row", 1, 0, 0, oneTxnPerRow(), "T08"},
		{"limit 3, transaction per row", 3, 0, 0, oneTxnPerRow(), "T08"},
		{"limit 1, one transaction", 1, 0, 0, oneBigTxn(), "T01"},
		{"limit 3, one transaction", 3, 0, 0, oneBigTxn(), "T01"},
		{"byte budget of one message, transaction per row", 100, 1, 1, oneTxnPerRow(), "T08"},
		{"byte budget of one message, one transaction", 100, 1, 1, oneBigTxn(), "T01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.MaxInFlight, cfg.MaxInFlightBytes = tt.limit, tt.limitBytes
			held := tt.limit
			if tt.held > 0 {
				held = tt.held
			}
			srcs := scripted(tt.steps)
			snks := &sinks{}
			store := &memStore{}
			start(t, newPipeline(cfg, srcs, snks, store))

			// blockedAt holds when the sink has been handed exactly n
			// messages and the source has read past them: the next change
			// waits for an ack (between source and sink, the hand-off queues
			// what the source reads meanwhile; TestHandoffHoldsTheSource).
			blockedAt := func(n int) func() bool {
				return func() bool {
					src, snk := srcs.attempt(0), snks.attempt(0)
					return src != nil && snk != nil && src.changes.Load() > int64(n) && snk.written() == n
				}
			}
			eventually(t, fmt.Sprintf("the stream is held after %d changes", held), blockedAt(held))
			consistently(t, fmt.Sprintf("the stream stays held after %d changes", held), settle/2, blockedAt(held))

			snk := snks.attempt(0)
			snk.Ack(1)
			eventually(t, "one ack lets exactly one more change through", blockedAt(held+1))
			consistently(t, "the stream stays held after one ack", settle/2, blockedAt(held+1))

			// Release the rest, acking from this goroutine as messages arrive.
			eventually(t, "the final checkpoint is committed", func() bool {
				snk.AckAll()
				return store.position() == tt.final
			})
			if got := snk.written(); got != rows {
				t.Errorf("sink got %d messages, want %d", got, rows)
			}
			if got := snk.maxUnsettled(); got > held {
				t.Errorf("sink held %d unacked messages at once, limit %d", got, held)
			}
		})
	}
}
