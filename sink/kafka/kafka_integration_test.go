package kafkasink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

// TestKafkaSmoke checks that the kafka-go APIs the package uses (Client
// Metadata/CreateTopics/DescribeConfigs, Writer, Reader) work against the
// Kafka 4 broker, which dropped old protocol versions.
func TestKafkaSmoke(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := testenv.UniqueName(t, "smoke")
	client := adminClient(addr)
	if err := EnsureTopic(ctx, client, topic, 1, 1); err != nil {
		t.Fatalf("EnsureTopic: %v", err)
	}
	// Again: an existing topic is fine.
	if err := EnsureTopic(ctx, client, topic, 1, 1); err != nil {
		t.Fatalf("EnsureTopic on existing topic: %v", err)
	}
	max, from, err := maxMessageBytes(ctx, client, topic)
	if err != nil || max < 1000 {
		t.Fatalf("maxMessageBytes = %d (%s), %v", max, from, err)
	}
	// The Writer shares the client's Transport: its metadata cache was
	// refreshed by CreateTopics, while another Transport's cache (such as
	// kafka.DefaultTransport's) may not know the topic yet.
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, Transport: client.Transport,
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k1"), Value: []byte("v1")}); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	msgs, err := ReadTopic(ctx, []string{addr}, topic, 1, 20*time.Second)
	if err != nil {
		t.Fatalf("ReadTopic: %v", err)
	}
	if string(msgs[0].Key) != "k1" || string(msgs[0].Value) != "v1" {
		t.Fatalf("read %q=%q, want k1=v1", msgs[0].Key, msgs[0].Value)
	}
}

// createSmallTopic creates a topic whose max.message.bytes is 10000.
func createSmallTopic(t *testing.T, ctx context.Context, addr, prefix string) string {
	t.Helper()
	topic := testenv.UniqueName(t, prefix)
	err := EnsureTopic(ctx, adminClient(addr), topic, 1, 1, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "10000"})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return topic
}

func TestSinkOversizedHalt(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	ctx := ctxFor(t, 60*time.Second)
	topic := createSmallTopic(t, ctx, addr, "oversized")
	a := newAcks()
	s := newTestSink(t, testConfig(addr), a)

	limit := 10000 - batchSlack(10000)
	key := []byte("k")
	atLimit := make([]byte, limit-recordSize(kafka.Message{Key: key}))
	// A message exactly at the limit passes our check, kafka-go's and the
	// broker's.
	if err := s.Write(ctx, []sink.Message{{Topic: topic, Key: key, Value: atLimit, Seq: 1}}); err != nil {
		t.Fatalf("Write at limit: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if a.okCount(1) != 1 {
		t.Fatalf("message at limit not acked: %v", a.errOf(1))
	}

	big := append(atLimit, 'x')
	err := s.Write(ctx, []sink.Message{
		{Topic: topic, Key: key, Value: []byte("before"), Seq: 2},
		{Topic: topic, Key: key, Value: big, Seq: 3, Describe: "shop.orders id=7"},
		{Topic: topic, Key: key, Value: []byte("after"), Seq: 4},
	})
	var oe *OversizedError
	if !errors.As(err, &oe) {
		t.Fatalf("Write = %v, want *OversizedError", err)
	}
	if oe.Topic != topic || oe.Describe != "shop.orders id=7" || oe.Seq != 3 || oe.Size != limit+1 || oe.Limit != limit {
		t.Fatalf("OversizedError = %+v, want size %d limit %d", oe, limit+1, limit)
	}
	if !IsPermanent(err) || !oe.Permanent() {
		t.Fatal("oversized error is not permanent")
	}
	for _, want := range []string{topic, "shop.orders id=7", strconv.Itoa(limit + 1), strconv.Itoa(limit), "max.message.bytes=10000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The sink stays failed, and says why.
	err = s.Write(ctx, []sink.Message{{Topic: topic, Key: key, Value: []byte("later"), Seq: 5}})
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "write 1 messages to "+topic) {
		t.Fatalf("later Write = %v, want wrapped *OversizedError", err)
	}
	if err := s.Flush(ctx); !errors.As(err, &oe) {
		t.Fatalf("Flush = %v, want the failure", err)
	}
	// Only the messages before the oversized one went out.
	msgs, err := ReadTopic(ctx, []string{addr}, topic, 3, 2*time.Second)
	if err == nil || len(msgs) != 2 || string(msgs[1].Value) != "before" {
		t.Fatalf("read %d messages (%v), want the at-limit one and \"before\" only", len(msgs), err)
	}
	if a.okCount(3) != 0 || a.okCount(4) != 0 || a.okCount(5) != 0 {
		t.Fatal("messages at or after the oversized one were acked")
	}
}

func TestSinkOversizedDeadLetter(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	ctx := ctxFor(t, 60*time.Second)
	topic := createSmallTopic(t, ctx, addr, "dl_src")
	dlq := testenv.UniqueName(t, "dlq")
	cfg := testConfig(addr)
	cfg.OnOversized, cfg.DeadLetterTopic = OversizedDeadLetter, dlq
	a := newAcks()
	m := &deadLetterCounter{}
	s, err := New(cfg, a.ack, nil, WithMetrics(m))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })

	big := make([]byte, 20000)
	err = s.Write(ctx, []sink.Message{
		{Topic: topic, Key: []byte("order-7"), Value: big, Seq: 11, Describe: "shop.orders id=7"},
		{Topic: topic, Key: []byte("order-8"), Value: []byte("small"), Seq: 12},
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if a.okCount(11) != 1 || a.okCount(12) != 1 {
		t.Fatalf("acks: 11=%d 12=%d, want 1 each", a.okCount(11), a.okCount(12))
	}
	if n := m.count("oversized"); n != 1 {
		t.Errorf("%d oversized dead letters counted, want 1", n)
	}
	msgs, err := ReadTopic(ctx, []string{addr}, dlq, 1, 20*time.Second)
	if err != nil {
		t.Fatalf("ReadTopic dlq: %v", err)
	}
	// The one dead-letter shape (transform.DeadLetter), also the mapping's.
	var ref transform.DeadLetter
	dec := json.NewDecoder(bytes.NewReader(msgs[0].Value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ref); err != nil {
		t.Fatalf("dead letter value %q: %v", msgs[0].Value, err)
	}
	want := transform.DeadLetter{Kind: "oversized", Topic: topic, Key: json.RawMessage(`"order-7"`), Size: recordSize(kafka.Message{Key: []byte("order-7"), Value: big}),
		Limit: 10000 - batchSlack(10000), Reason: "oversized", Seq: 11, Event: json.RawMessage("null")}
	if !reflect.DeepEqual(ref, want) || string(msgs[0].Key) != "order-7" {
		t.Fatalf("dead letter %q = %+v, want key order-7, %+v", msgs[0].Key, ref, want)
	}
}

// TestSinkBrokerRejectsTooLarge bypasses the sink's own size check to see
// the broker's MESSAGE_TOO_LARGE handled in the completion.
func TestSinkBrokerRejectsTooLarge(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	for _, mode := range []OnOversized{OversizedHalt, OversizedDeadLetter} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, 60*time.Second)
			topic := createSmallTopic(t, ctx, addr, "reject")
			cfg := testConfig(addr)
			cfg.Compression = "none"
			cfg.OnOversized, cfg.DeadLetterTopic = mode, testenv.UniqueName(t, "reject_dlq")
			a := newAcks()
			s := newTestSink(t, cfg, a)
			tw, err := s.topic(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			// Pretend the limit were larger (the topic's config changed).
			tw.limit, tw.w.BatchBytes = 1<<20, 1<<20
			if err := s.Write(ctx, []sink.Message{{Topic: topic, Key: []byte("k"), Value: make([]byte, 20000), Seq: 1}}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			s.Flush(ctx)
			if mode == OversizedDeadLetter {
				if a.okCount(1) != 1 || s.Err() != nil {
					t.Fatalf("ack %d, err %v, sink %v; want dead-lettered and acked", a.okCount(1), a.errOf(1), s.Err())
				}
				return
			}
			var oe *OversizedError
			if err := a.errOf(1); !errors.Is(err, kafka.MessageSizeTooLarge) || !errors.As(err, &oe) || !IsPermanent(err) {
				t.Fatalf("ack error = %v, want permanent MessageSizeTooLarge", err)
			}
			if err := s.Write(ctx, []sink.Message{{Topic: topic, Seq: 2}}); !errors.Is(err, kafka.MessageSizeTooLarge) {
				t.Fatalf("later Write = %v, want the failure", err)
			}
		})
	}
}

func TestSinkMissingTopicWithoutCreate(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	ctx := ctxFor(t, 30*time.Second)
	cfg := testConfig(addr)
	cfg.CreateTopics = false
	a := newAcks()
	s := newTestSink(t, cfg, a)
	topic := testenv.UniqueName(t, "missing")
	err := s.Write(ctx, []sink.Message{{Topic: topic, Value: []byte("v"), Seq: 1}})
	want := "topic " + topic + " does not exist and kafka.create_topics is false"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Write = %v, want %q", err, want)
	}
	md, err := adminClient(addr).Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || !errors.Is(md.Topics[0].Error, kafka.UnknownTopicOrPartition) {
		t.Fatalf("topic was created anyway: %+v, %v", md, err)
	}
}
