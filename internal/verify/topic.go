package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

// applyBatch is how many messages one Digests.Apply records at most: a
// durable store commits once per batch.
const applyBatch = 500

// topicReader reads topic partitions into Digests, without a consumer
// group (nothing is committed to Kafka).
type topicReader struct {
	kafka       *kafkasink.Connection
	readTimeout time.Duration
	transport   *kafka.Transport
	client      *kafka.Client
	decode      func(context.Context, []byte) ([]byte, error) // Avro → JSON; nil: none
}

// NewFollower returns a Follower of the topics of source, keeping digests.
// readTimeout fails reading a partition that delivers nothing for so long
// while below its high watermark. Close releases its connections.
func NewFollower(conn *kafkasink.Connection, source string, digests Digests, readTimeout time.Duration) *Follower {
	// A private Transport: a shared one caches metadata for seconds.
	tr := conn.Transport(time.Second)
	return &Follower{
		topics:  &topicReader{kafka: conn, readTimeout: readTimeout, transport: tr, client: conn.Client(tr, 10*time.Second)},
		digests: digests, source: source, locks: map[string]*sync.Mutex{},
	}
}

// DecodeAvro makes the follower read schema-registry Avro messages (format:
// avro) through decode, which turns one into the JSON format's bytes of the
// same event; without it such messages are errors.
func (f *Follower) DecodeAvro(decode func(ctx context.Context, msg []byte) ([]byte, error)) {
	f.topics.decode = decode
}

// Close releases the follower's idle connections.
func (f *Follower) Close() { f.topics.transport.CloseIdleConnections() }

// catchUp reads every partition of topic from where digests say reading
// stopped (the first time: from its first offset) up to its high
// watermark as of now. A topic that does not exist is empty.
func (t *topicReader) catchUp(ctx context.Context, topic, source string, digests Digests) (CatchUpResult, error) {
	var res CatchUpResult
	md, err := t.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return res, fmt.Errorf("read metadata of topic %s: %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, tm := range md.Topics {
		if tm.Name != topic {
			continue
		}
		if errors.Is(tm.Error, kafka.UnknownTopicOrPartition) {
			return res, nil
		}
		if tm.Error != nil {
			return res, fmt.Errorf("read metadata of topic %s: %w", topic, tm.Error)
		}
		for _, p := range tm.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return res, nil
	}
	res.Exists = true
	offs, err := t.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return res, fmt.Errorf("list offsets of topic %s: %w", topic, err)
	}
	var messages atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return res, fmt.Errorf("list offsets of topic %s partition %d: %w", topic, po.Partition, po.Error)
		}
		start, ok, err := digests.Next(topic, po.Partition)
		if err != nil {
			return res, err
		}
		if !ok {
			start = 0
		}
		if start < po.FirstOffset {
			res.Lost += po.FirstOffset - start // deleted by retention before they were read
			start = po.FirstOffset
		}
		end := po.LastOffset // the high watermark: one past the last message
		if start >= end {
			if !ok || start != end {
				if err := digests.Apply(topic, po.Partition, start, nil); err != nil {
					return res, err
				}
			}
			continue
		}
		p := po.Partition
		g.Go(func() error {
			n, err := t.readPartition(gctx, topic, source, p, start, end, digests)
			messages.Add(n)
			return err
		})
	}
	err = g.Wait()
	res.Messages = messages.Load()
	return res, err
}

// readPartition applies the messages of partition p in [start, end), in
// offset order. Keys live in one partition, so per-key order is kept.
func (t *topicReader) readPartition(ctx context.Context, topic, source string, p int, start, end int64, digests Digests) (int64, error) {
	r := t.kafka.Reader(kafka.ReaderConfig{
		Topic: topic, Partition: p,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return 0, err
	}
	var messages int64
	batch := make([]Change, 0, applyBatch)
	next := start
	flush := func() error {
		err := digests.Apply(topic, p, next, batch)
		batch = batch[:0]
		return err
	}
	for next < end {
		rctx, cancel := context.WithTimeout(ctx, t.readTimeout)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return messages, ctx.Err()
			}
			return messages, fmt.Errorf("read topic %s partition %d: nothing after offset %d for %s, high watermark %d: %w",
				topic, p, r.Offset(), t.readTimeout, end, err)
		}
		if m.Offset >= end {
			break // past the watermark (the last message was compacted away)
		}
		if m.Offset < next {
			continue // delivered again after a reconnect
		}
		if err := t.decodeAvro(ctx, &m); err != nil {
			return messages, err
		}
		c, counted, err := decodeChange(m, source)
		if err != nil {
			return messages, err
		}
		if counted {
			messages++
		}
		if c != nil {
			batch = append(batch, *c)
		}
		next = m.Offset + 1
		if len(batch) == applyBatch {
			if err := flush(); err != nil {
				return messages, err
			}
		}
	}
	next = max(next, end)
	return messages, flush()
}

// decodeAvro turns an Avro message into the JSON format's event in place.
func (t *topicReader) decodeAvro(ctx context.Context, m *kafka.Message) error {
	if len(m.Value) == 0 || m.Value[0] != 0 { // the Confluent wire format; JSON starts with '{'
		return nil
	}
	if t.decode == nil {
		return fmt.Errorf("topic %s partition %d offset %d: an Avro message, and no schema registry configured", m.Topic, m.Partition, m.Offset)
	}
	value, err := t.decode(ctx, m.Value)
	if err != nil {
		return fmt.Errorf("topic %s partition %d offset %d: decode Avro: %w", m.Topic, m.Partition, m.Offset, err)
	}
	m.Value, m.Key = value, nil // the key as the JSON format writes it: the event's
	return nil
}

// decodeChange is the state change message m makes: c/u/r upsert their
// after image, d removes the key, t clears the table; tombstones and
// events of other sources change nothing. counted says whether m was an
// event.
func decodeChange(m kafka.Message, source string) (*Change, bool, error) {
	if m.Value == nil {
		return nil, false, nil
	}
	var ev event
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		return nil, false, fmt.Errorf("topic %s partition %d offset %d: not an event: %w", m.Topic, m.Partition, m.Offset, err)
	}
	if ev.Source.Name != source {
		return nil, true, nil
	}
	key := string(m.Key)
	if key == "" {
		key = string(ev.Key)
	}
	switch ev.Op {
	case "c", "u", "r":
		if len(ev.After) == 0 || string(ev.After) == "null" {
			return nil, false, fmt.Errorf("topic %s partition %d offset %d: op %q without after image", m.Topic, m.Partition, m.Offset, ev.Op)
		}
		e, err := ev.entry()
		if err != nil {
			return nil, false, fmt.Errorf("topic %s partition %d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		return &Change{Table: ev.table(), Key: key, Entry: &e}, true, nil
	case "d":
		return &Change{Table: ev.table(), Key: key}, true, nil
	case "t":
		// Events of other partitions cannot be ordered against a truncate;
		// keys written after it are restored by their own later events.
		return &Change{Table: ev.table(), Clear: true}, true, nil
	default:
		return nil, false, fmt.Errorf("topic %s partition %d offset %d: unknown op %q", m.Topic, m.Partition, m.Offset, ev.Op)
	}
}
