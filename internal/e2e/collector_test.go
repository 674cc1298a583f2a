package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	partition int
	offset    int64
}

// collector reads every partition of some topics from the beginning, in
// the background, keeping events in per-partition order.
type collector struct {
	mu         sync.Mutex
	events     []event
	values     [][]byte // raw event values, in arrival order
	tombstones int
	errs       []error
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// createTopics creates the topics with n partitions before the daemon runs,
// so the collector can subscribe from the start.
func createTopics(t *testing.T, n int, topics ...string) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Timeout: 30 * time.Second}
	cfgs := make([]kafka.TopicConfig, len(topics))
	for i, tp := range topics {
		cfgs[i] = kafka.TopicConfig{Topic: tp, NumPartitions: n, ReplicationFactor: 1}
	}
	resp, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for tp, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create topic %s: %v", tp, err)
		}
	}
}

func collect(t *testing.T, partitions int, topics ...string) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{cancel: cancel}
	for _, tp := range topics {
		for p := 0; p < partitions; p++ {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: []string{testenv.KafkaAddr()}, Topic: tp, Partition: p,
				MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
			})
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer r.Close()
				for {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						if ctx.Err() == nil {
							c.fail(fmt.Errorf("read %s/%d: %w", tp, p, err))
						}
						return
					}
					c.add(m)
				}
			}()
		}
	}
	t.Cleanup(c.stop)
	return c
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

func (c *collector) add(m kafka.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Value == nil {
		c.tombstones++
		return
	}
	var ev event
	dec := json.NewDecoder(strings.NewReader(string(m.Value)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		c.errs = append(c.errs, fmt.Errorf("decode event at %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err))
		return
	}
	ev.partition, ev.offset = m.Partition, m.Offset
	c.events = append(c.events, ev)
	c.values = append(c.values, m.Value)
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
