package kafkasink

import (
	"errors"
	"fmt"
	"io"
	"slices"
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

// readAll reads everything topic holds: each partition's end offset first,
// then every record up to it. It fetches records itself because
// kafka.Reader returns an empty value as nil, like a tombstone. It checks
// what only Kafka promises: the topic has the configured number of
// partitions, and every message sits on the partition the Java client's
// partitioner (murmur2) picks for its key, so a key's messages are on one
// partition, in order.
func readAll(t *testing.T, addr, topic string, partitions int) []sinktest.Record {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	client := adminClient(addr)
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v %+v", topic, err, md)
	}
	var ids []int
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		ids = append(ids, p.ID)
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	slices.Sort(ids)
	if len(ids) != partitions {
		t.Fatalf("%s has %d partitions, want %d", topic, len(ids), partitions)
	}
	offsets, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("offsets of %s: %v", topic, err)
	}
	var murmur2 kafka.Murmur2Balancer
	var recs []sinktest.Record
	for _, po := range offsets.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("offsets of %s partition %d: %v", topic, po.Partition, po.Error)
		}
		for next := po.FirstOffset; next < po.LastOffset; {
			res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: po.Partition, Offset: next, MinBytes: 1, MaxBytes: 16 << 20})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				t.Fatalf("fetch %s partition %d at %d: %v", topic, po.Partition, next, err)
			}
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("read %s partition %d: %v", topic, po.Partition, err)
				}
				if r.Offset < next {
					continue // a batch may start before the offset asked for
				}
				next = r.Offset + 1
				key, value := readBytes(t, r.Key), readBytes(t, r.Value)
				if want := murmur2.Balance(kafka.Message{Key: key}, ids...); po.Partition != want {
					t.Fatalf("%s: key %s on partition %d, want %d (murmur2)", topic, key, po.Partition, want)
				}
				recs = append(recs, sinktest.Record{Key: key, Value: value})
			}
		}
	}
	return recs
}

// readBytes reads b whole: nil stays nil, empty stays empty.
func readBytes(t *testing.T, b kafka.Bytes) []byte {
	t.Helper()
	if b == nil {
		return nil
	}
	defer b.Close()
	out := make([]byte, b.Len())
	if _, err := io.ReadFull(b, out); err != nil {
		t.Fatalf("read record: %v", err)
	}
	return out
}
