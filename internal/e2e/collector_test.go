package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// event is the part of a canonical event these tests look at.
type event struct {
	ID     string                     `json:"id"`
	Op     string                     `json:"op"`
	Key    map[string]json.RawMessage `json:"key"`
	Before map[string]json.RawMessage `json:"before"`
	After  map[string]json.RawMessage `json:"after"`
	Source struct {
		Table    string `json:"table"`
		Position string `json:"position"`
	} `json:"source"`
	topic     string
	partition int
	offset    int64
	headers   map[string]string // cluster mode: tributary-epoch, tributary-member
}

// collector reads every partition of some topics from the beginning, in
// the background, keeping events in per-partition order.
//
// It rides out broker outages by itself: when a partition's reader fails
// (the broker stopped, frozen or not yet leader again after a restart) it is
// closed and a new one continues from the offset after the last message
// read, so nothing is read twice or skipped. Read errors are therefore not
// failures; they are counted, and the last ones are logged if the test
// fails. Only undecodable events are errors.
type collector struct {
	mu         sync.Mutex
	events     []event
	values     [][]byte // raw event values, in arrival order
	tombstones int
	errs       []error
	reconnects int              // readers recreated after a read error
	lastErr    map[string]error // per topic/partition: the last read error
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	// decode, when set, turns an Avro value (format avro) into the JSON
	// format's event before it is collected.
	decode func([]byte) ([]byte, error)
}

// decodeAvroWith makes the collector decode Avro values with decode.
func (c *collector) decodeAvroWith(decode func([]byte) ([]byte, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decode = decode
}

// collectorRetry is how long a partition's reader waits before it is
// recreated after an error.
const collectorRetry = 500 * time.Millisecond

// createTopics creates the topics with n partitions before the daemon runs,
// so the collector can subscribe from the start.
func createTopics(t *testing.T, n int, topics ...string) {
	t.Helper()
	// A transport of its own: the default one's pooled connections may be
	// dead after a test that froze or restarted the broker.
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Timeout: 30 * time.Second, Transport: transport}
	cfgs := make([]kafka.TopicConfig, len(topics))
	for i, tp := range topics {
		cfgs[i] = kafka.TopicConfig{Topic: tp, NumPartitions: n, ReplicationFactor: 1}
	}
	var resp *kafka.CreateTopicsResponse
	var err error
	retried := false
	for deadline := time.Now().Add(30 * time.Second); ; retried = true {
		resp, err = client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: cfgs})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // a connection cut under us: ask again
	}
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for tp, err := range resp.Errors {
		if retried && errors.Is(err, kafka.TopicAlreadyExists) {
			continue // the attempt that failed created it
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", tp, err)
		}
	}
}

func collect(t *testing.T, partitions int, topics ...string) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel, lastErr: map[string]error{}}
	for _, tp := range topics {
		for p := 0; p < partitions; p++ {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				c.readPartition(ctx, tp, p)
			}()
		}
	}
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.reconnects > 0 {
				t.Logf("collector: %d readers recreated after read errors; last errors: %v", c.reconnects, c.lastErr)
			}
		}
	})
	return c
}

// readPartition reads one partition from its first offset until ctx ends,
// recreating the reader after every error and continuing after the last
// message read.
func (c *collector) readPartition(ctx context.Context, topic string, partition int) {
	next := kafka.FirstOffset
	for ctx.Err() == nil {
		tp := testenv.NewTopic(topic)
		var err error
		next, err = tp.Follow(ctx, partition, next, func(r testenv.Record) bool {
			c.add(topic, r)
			return true
		})
		tp.Close()
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.reconnects++
		c.lastErr[fmt.Sprintf("%s/%d", topic, partition)] = fmt.Errorf("at offset %d: %w", next, err)
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(collectorRetry):
		}
	}
}

// readerRestarts is how many times a partition reader was recreated after a
// read error.
func (c *collector) readerRestarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnects
}

func (c *collector) stop() {
	c.cancel()
	c.wg.Wait()
}

func (c *collector) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

func (c *collector) add(topic string, r testenv.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Value == nil {
		c.tombstones++
		return
	}
	if c.decode != nil && len(r.Value) > 0 && r.Value[0] == 0 {
		v, err := c.decode(r.Value)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("decode Avro event at %s/%d@%d: %w", topic, r.Partition, r.Offset, err))
			return
		}
		r.Value = v
	}
	var ev event
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		c.errs = append(c.errs, fmt.Errorf("decode event at %s/%d@%d: %w", topic, r.Partition, r.Offset, err))
		return
	}
	ev.topic, ev.partition, ev.offset = topic, r.Partition, r.Offset
	if len(r.Headers) > 0 {
		ev.headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			ev.headers[h.Key] = string(h.Value)
		}
	}
	c.events = append(c.events, ev)
	c.values = append(c.values, r.Value)
}

// snapshot returns the events so far (with duplicates) and read errors.
func (c *collector) snapshot() ([]event, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...), append([]error(nil), c.errs...)
}

// raw returns the event values received so far.
func (c *collector) raw() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.values...)
}

// dedupe drops events whose id was already seen, keeping the first copy.
func dedupe(evs []event) (unique []event, duplicates int) {
	seen := make(map[string]bool, len(evs))
	for _, ev := range evs {
		if seen[ev.ID] {
			duplicates++
			continue
		}
		seen[ev.ID] = true
		unique = append(unique, ev)
	}
	return unique, duplicates
}

// perKey groups events by table and key in arrival order, each written as
// "op:v" with v the version column of the row image the op carries.
func perKey(t *testing.T, evs []event) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, ev := range evs {
		img := ev.After
		if ev.Op == "d" {
			img = ev.Before
		}
		k := fmt.Sprintf("%s/%s", ev.Source.Table, string(ev.Key["id"]))
		out[k] = append(out[k], fmt.Sprintf("%s:%s", ev.Op, img["v"]))
	}
	return out
}
