package sinktest

import (
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/sink"
)

// testDelivery writes without waiting, flushes once, and checks that Flush
// returned only after every message was acked, each once, and that each
// key's messages sit at the destination in write order, once each.
func testDelivery(t *testing.T, h Harness) {
	tests := []struct {
		name                           string
		topics, keys, writes, perTopic int // perTopic: messages per topic and Write
	}{
		{"one message", 1, 1, 1, 1},
		{"one key, many writes", 1, 1, 50, 20},
		{"many keys, many writes", 1, 200, 20, 500},
		{"two topics in every write", 2, 10, 10, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, time.Minute)
			r := open(t, h)
			topics := make([]string, tt.topics)
			for i := range topics {
				topics[i] = h.NewTopic(t)
			}
			for range tt.writes {
				var msgs []sink.Message
				for range tt.perTopic {
					for _, topic := range topics {
						msgs = append(msgs, r.next(topic, tt.keys, 1)...)
					}
				}
				r.mustWrite(t, ctx, msgs)
			}
			r.mustFlush(t, ctx)
			r.checkAcks(t, true, true)
			for _, topic := range topics {
				r.checkTopic(t, h, topic, exactly)
			}
		})
	}
}

// testTombstones checks that a nil Value arrives as a tombstone, in its
// place among the key's messages, and an empty one as an empty value.
func testTombstones(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	r := open(t, h)
	topic := h.NewTopic(t)
	r.mustWrite(t, ctx, []sink.Message{
		r.message(topic, "deleted", []byte("v1")),
		r.message(topic, "deleted", nil),
		r.message(topic, "recreated", []byte("v1")),
		r.message(topic, "recreated", nil),
		r.message(topic, "recreated", []byte("v2")),
		r.message(topic, "only-tombstone", nil),
		r.message(topic, "empty", []byte{}),
	})
	r.mustFlush(t, ctx)
	r.checkAcks(t, true, true)
	r.checkTopic(t, h, topic, exactly)
}

// testLifecycle checks Flush with nothing written, Close after Flush,
// Close twice and Write after Close.
func testLifecycle(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	r := open(t, h)
	topic := h.NewTopic(t)
	if err := r.s.Flush(ctx); err != nil {
		t.Fatalf("Flush with nothing written: %v", err)
	}
	r.mustWrite(t, ctx, r.next(topic, 3, 10))
	r.mustFlush(t, ctx)
	r.checkAcks(t, true, true)
	if err := r.s.Close(); err != nil {
		t.Fatalf("Close after Flush: %v", err)
	}
	if err := r.s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	late := r.next(topic, 3, 1)
	if err := r.write(ctx, late); err == nil {
		t.Fatal("Write after Close returned nil, want an error")
	}
	r.checkAcks(t, true, true)
	r.mu.Lock()
	n := r.acks[late[0].Seq]
	r.mu.Unlock()
	if n > 0 {
		t.Fatal("a message written after Close was acked")
	}
	r.checkTopic(t, h, topic, exactly)
}
