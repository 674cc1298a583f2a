package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	// The limit is produced with the daemon's lz4 framing (64 KiB blocks,
	// sink/kafka/lz4.go), not kafka-go's slower default: a limit made
	// slower than it need be would flatter our ratio.
	_ "github.com/tributary-cdc/tributary/sink/kafka"
)

// benchKafka is the bench's own view of the broker: topic admin, counting
// acknowledged messages, reading them back.
type benchKafka struct {
	addr       string
	partitions int
	client     *kafka.Client
}

func newBenchKafka(addr string, partitions int) *benchKafka {
	return &benchKafka{addr: addr, partitions: partitions,
		client: &kafka.Client{Addr: kafka.TCP(addr), Timeout: 30 * time.Second}}
}

// createTopics creates topics up front so every contender (Debezium's
// producer does not create topics) and every reader finds them.
func (k *benchKafka) createTopics(ctx context.Context, topics ...string) error {
	cfgs := make([]kafka.TopicConfig, len(topics))
	for i, t := range topics {
		cfgs[i] = kafka.TopicConfig{Topic: t, NumPartitions: k.partitions, ReplicationFactor: 1}
	}
	resp, err := k.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

func (k *benchKafka) deleteTopics(ctx context.Context, topics ...string) error {
	_, err := k.client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	return err
}

// endOffsets returns each partition's high watermark: with acks=all on one
// broker, the number of acknowledged messages in it. Errors of a broker
// still electing leaders for new topics are retried for up to 30 s.
func (k *benchKafka) endOffsets(ctx context.Context, topics ...string) (map[string][]int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := k.tryEndOffsets(ctx, topics...)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return offs, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (k *benchKafka) tryEndOffsets(ctx context.Context, topics ...string) (map[string][]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range topics {
		for p := 0; p < k.partitions; p++ {
			req.Topics[t] = append(req.Topics[t], kafka.LastOffsetOf(p))
		}
	}
	resp, err := k.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := map[string][]int64{}
	for _, t := range topics {
		offs := make([]int64, k.partitions)
		for _, po := range resp.Topics[t] {
			if po.Error != nil {
				return nil, fmt.Errorf("list offsets %s/%d: %w", t, po.Partition, po.Error)
			}
			offs[po.Partition] = po.LastOffset
		}
		out[t] = offs
	}
	return out, nil
}

// count is the number of messages on topics.
func (k *benchKafka) count(ctx context.Context, topics ...string) (int64, error) {
	offs, err := k.endOffsets(ctx, topics...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range offs {
		for _, x := range o {
			n += x
		}
	}
	return n, nil
}

// waitCount polls every 50 ms until topics hold at least want messages and
// returns when the first message appeared (relative to since) and when the
// count was reached. alive reports a contender that died meanwhile.
func (k *benchKafka) waitCount(ctx context.Context, want int64, timeout time.Duration, alive func() error, topics ...string) (first, last time.Time, err error) {
	deadline := time.Now().Add(timeout)
	base, err := k.count(ctx, topics...)
	if err != nil {
		return first, last, err
	}
	for {
		n, err := k.count(ctx, topics...)
		if err != nil {
			return first, last, err
		}
		now := time.Now()
		if first.IsZero() && n > base {
			first = now
		}
		if n >= want {
			if first.IsZero() {
				first = now
			}
			return first, now, nil
		}
		if err := alive(); err != nil {
			return first, last, err
		}
		if now.After(deadline) {
			return first, last, fmt.Errorf("timed out after %s with %d of %d messages", timeout, n, want)
		}
		select {
		case <-ctx.Done():
			return first, last, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readAll reads every message of topics (up to their current end) and
// returns the bytes of keys and values and up to sampleN messages.
func (k *benchKafka) readAll(ctx context.Context, sampleN int, topics ...string) (int64, []kafka.Message, error) {
	offs, err := k.endOffsets(ctx, topics...)
	if err != nil {
		return 0, nil, err
	}
	var (
		total  atomic.Int64
		mu     sync.Mutex
		sample []kafka.Message
		errs   []error
		wg     sync.WaitGroup
	)
	for t, ends := range offs {
		for p, end := range ends {
			if end == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.addr}, Topic: t, Partition: p,
					MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond})
				defer r.Close()
				for {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("read %s/%d: %w", t, p, err))
						mu.Unlock()
						return
					}
					total.Add(int64(len(m.Key) + len(m.Value)))
					mu.Lock()
					if len(sample) < sampleN {
						sample = append(sample, kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value})
					}
					mu.Unlock()
					if m.Offset+1 >= end {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	return total.Load(), sample, errors.Join(errs...)
}

// produceLimit measures how fast kafka-go alone gets n messages acked, cycling
// through sample (each sample message goes to topicOf(its topic)). The
// writers are configured as Tributary's sink configures its own: one per
// topic, async, acks=all, Murmur2, batches of 1000 messages / 1 MiB, 10 ms
// batch timeout, lz4, at most maxInFlight unacknowledged messages.
func (k *benchKafka) produceLimit(ctx context.Context, sample []kafka.Message, n int64, maxInFlight int, topicOf func(string) string) (Rate, error) {
	if len(sample) == 0 {
		return Rate{}, errors.New("no sample messages to produce")
	}
	var (
		acked    atomic.Int64
		failed   atomic.Value
		bytes    int64
		inflight = make(chan struct{}, maxInFlight)
		done     = make(chan struct{})
	)
	complete := func(msgs []kafka.Message, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
		for range msgs {
			<-inflight
		}
		if acked.Add(int64(len(msgs))) >= n {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	writers := map[string]*kafka.Writer{}
	writerFor := func(topic string) *kafka.Writer {
		w := writers[topic]
		if w == nil {
			w = &kafka.Writer{Addr: kafka.TCP(k.addr), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
				RequiredAcks: kafka.RequireAll, Async: true, Completion: complete,
				BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 10 * time.Millisecond,
				WriteTimeout: 10 * time.Second, Compression: kafka.Lz4, MaxAttempts: 10}
			writers[topic] = w
		}
		return w
	}
	defer func() {
		for _, w := range writers {
			w.Close()
		}
	}()
	start := time.Now()
	const chunk = 512 // the pipeline hands the sink up to 512 messages at a time
	buf := map[string][]kafka.Message{}
	for i := int64(0); i < n; i++ {
		m := sample[i%int64(len(sample))]
		t := topicOf(m.Topic)
		buf[t] = append(buf[t], kafka.Message{Key: m.Key, Value: m.Value})
		bytes += int64(len(m.Key) + len(m.Value))
		select {
		case inflight <- struct{}{}:
		case <-ctx.Done():
			return Rate{}, ctx.Err()
		}
		if len(buf[t]) == chunk || i == n-1 {
			for tp, msgs := range buf {
				if len(msgs) == 0 {
					continue
				}
				if err := writerFor(tp).WriteMessages(ctx, msgs...); err != nil {
					return Rate{}, fmt.Errorf("kafka-go write: %w", err)
				}
				buf[tp] = nil
			}
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return Rate{}, ctx.Err()
	case <-time.After(5 * time.Minute):
		return Rate{}, fmt.Errorf("kafka-go: %d of %d acked after 5m", acked.Load(), n)
	}
	if err, _ := failed.Load().(error); err != nil {
		return Rate{}, fmt.Errorf("kafka-go produce: %w", err)
	}
	return newRate(n, bytes, time.Since(start)), nil
}
