package kafkasink

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/sink"
)

// TestCompletionFailure drives the completion callback directly: the
// first failed batch fails the sink and later Writes, without a broker.
func TestCompletionFailure(t *testing.T) {
	t.Parallel()
	a := newAcks()
	s, err := New(testConfig("127.0.0.1:1"), a.ack, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	s.inflight.add(3)
	s.complete([]kafka.Message{{Topic: "t", WriterData: msgMeta{seq: 1}}}, nil)
	s.complete([]kafka.Message{{Topic: "t", Partition: 2, WriterData: msgMeta{seq: 2}}, {Topic: "t", WriterData: msgMeta{seq: 3}}}, boom)
	if a.okCount(1) != 1 || !errors.Is(a.errOf(2), boom) || !errors.Is(a.errOf(3), boom) {
		t.Fatalf("acks ok=%v err=%v", a.ok, a.err)
	}
	if !strings.Contains(a.errOf(2).Error(), "produce 2 messages to t partition 2") {
		t.Errorf("ack error %q lacks context", a.errOf(2))
	}
	if err := s.Flush(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want boom", err)
	}
	err = s.Write(context.Background(), []sink.Message{{Topic: "orders", Seq: 4}})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "write 1 messages to orders") || IsPermanent(err) {
		t.Fatalf("Write = %v, want retryable boom naming topic and count", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestRecordSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  kafka.Message
		want int
	}{
		{"empty", kafka.Message{}, 23},
		{"key and value", kafka.Message{Key: []byte("k"), Value: make([]byte, 100)}, 124},
		{"header", kafka.Message{Headers: []kafka.Header{{Key: "h", Value: []byte("vv")}}}, 23 + 2 + 3},
		{"long header", kafka.Message{Headers: []kafka.Header{{Key: "h", Value: make([]byte, 64)}}}, 23 + 2 + 2 + 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := recordSize(tt.msg); got != tt.want {
				t.Fatalf("recordSize = %d, want %d", got, tt.want)
			}
		})
	}
}
