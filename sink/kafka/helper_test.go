package kafkasink

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// acks records every AckFunc call.
type acks struct {
	mu    sync.Mutex
	ok    map[uint64]int
	err   map[uint64]error
	calls int
}

func newAcks() *acks { return &acks{ok: map[uint64]int{}, err: map[uint64]error{}} }

func (a *acks) ack(seqs []uint64, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	for _, s := range seqs {
		if err != nil {
			a.err[s] = err
		} else {
			a.ok[s]++
		}
	}
}

func (a *acks) okCount(seq uint64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ok[seq]
}

func (a *acks) errOf(seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err[seq]
}

// requireKafka fails the test when the broker is not up and returns its
// address.
func requireKafka(t *testing.T) string {
	t.Helper()
	addr := testenv.KafkaAddr()
	testenv.RequireTCP(t, "Kafka", addr)
	return addr
}

func testConfig(addr string) Config {
	cfg := Defaults()
	cfg.Brokers = []string{addr}
	cfg.ClientID = "tributary-test"
	return cfg
}

// newTestSink builds a Sink closed at the end of the test.
func newTestSink(t *testing.T, cfg Config, a *acks) *Sink {
	t.Helper()
	s, err := New(cfg, a.ack, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func adminClient(addr string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// deadLetterCounter is a Metrics that counts dead letters by kind.
type deadLetterCounter struct {
	mu   sync.Mutex
	dead map[string]int
}

func (m *deadLetterCounter) Delivered(int, int)           {}
func (m *deadLetterCounter) ObserveProduce(time.Duration) {}

func (m *deadLetterCounter) DeadLetter(kind string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead == nil {
		m.dead = map[string]int{}
	}
	m.dead[kind]++
}

func (m *deadLetterCounter) count(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead[kind]
}
