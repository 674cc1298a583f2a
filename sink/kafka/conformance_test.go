package kafkasink

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/sink/sinktest"
)

// TestConformance runs the sink suite against the broker. Faulty sinks go
// through a proxy on the address the broker's proxied listener advertises
// (see testenv.KafkaProxyAddr), so every connection, not only the
// bootstrap one, can be cut or blackholed.
func TestConformance(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	sinktest.Run(t, sinktest.Harness{
		NewSink: func(t *testing.T, ack sink.AckFunc) sink.Sink {
			return newConformanceSink(t, testConfig(addr), ack)
		},
		NewTopic: func(t *testing.T) string { return testenv.UniqueName(t, "conformance") },
		Read: func(t *testing.T, topic string) []sinktest.Record {
			return readAll(t, addr, topic, Defaults().Partitions)
		},
		NewFaultySink: func(t *testing.T, ack sink.AckFunc) (sink.Sink, sinktest.Fault) {
			testenv.RequireTCP(t, "Kafka's proxied listener", testenv.KafkaProxiedAddr())
			proxy := testenv.StartProxyAt(t, testenv.KafkaProxyAddr(), testenv.KafkaProxiedAddr())
			cfg := testConfig(proxy.Addr())
			// A batch fails after 4 attempts of 250ms: about 1s of outage
			// (RideOut below leaves two attempts after the heal). Small
			// batches queue several behind the one that fails.
			cfg.WriteTimeout, cfg.MaxAttempts = 250*time.Millisecond, 4
			cfg.WriteBackoffMin, cfg.WriteBackoffMax = 10*time.Millisecond, 20*time.Millisecond
			cfg.BatchSize = 50
			s := newConformanceSink(t, cfg, ack)
			return s, sinktest.Fault{
				Reset: proxy.Cut,
				Outage: func() func() {
					proxy.Blackhole(true)
					// Cutting first drops the requests the proxy held, so
					// none reaches the broker late.
					return func() { proxy.Cut(); proxy.Restore() }
				},
			}
		},
		RideOut: 300 * time.Millisecond,
		CheckWriteErr: func(t *testing.T, err error, msgs []sink.Message) {
			want := fmt.Sprintf("write %d messages to %s", len(msgs), msgs[0].Topic)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Write after failure = %v, want an error naming the topic and count (%q)", err, want)
			}
			if IsPermanent(err) {
				t.Errorf("a produce failure should be retryable: %v", err)
			}
		},
	})
}

// newConformanceSink builds a Sink; the suite closes it.
func newConformanceSink(t *testing.T, cfg Config, ack sink.AckFunc) *Sink {
	t.Helper()
	s, err := New(cfg, ack, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// readAll reads everything topic holds (testenv.Topic keeps an empty value
// apart from a tombstone, which kafka.Reader does not). It checks what only
// Kafka promises: the topic has the configured number of partitions, and
// every message sits on the partition the Java client's partitioner
// (murmur2) picks for its key, so a key's messages are on one partition, in
// order.
func readAll(t *testing.T, addr, topic string, partitions int) []sinktest.Record {
	t.Helper()
	tp := testenv.NewTopicAt(addr, topic, nil)
	defer tp.Close()
	ctx := ctxFor(t, 30*time.Second)
	offs, err := tp.Offsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, po := range offs {
		ids = append(ids, po.Partition)
	}
	if len(ids) != partitions {
		t.Fatalf("%s has %d partitions, want %d", topic, len(ids), partitions)
	}
	var murmur2 kafka.Murmur2Balancer
	var recs []sinktest.Record
	for _, r := range tp.ReadAll(t) {
		if want := murmur2.Balance(kafka.Message{Key: r.Key}, ids...); r.Partition != want {
			t.Fatalf("%s: key %s on partition %d, want %d (murmur2)", topic, r.Key, r.Partition, want)
		}
		recs = append(recs, sinktest.Record{Key: r.Key, Value: r.Value})
	}
	return recs
}
