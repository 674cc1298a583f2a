package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"golang.org/x/sync/errgroup"
)

// entry is the latest state of one key in the topic: the SHA-256 of its
// after image, as the event carried it.
type entry struct {
	hash [sha256.Size]byte
	// absent lists the columns the latest event did not carry (NOBLOB or
	// MINIMAL row images, PostgreSQL unchanged TOAST). Only the columns it
	// carried are compared.
	absent []string
	seen   bool // a source row with this key was compared
}

// topicState is the latest row per key of one topic, read up to a high
// watermark, and where each partition's reading stopped.
type topicState struct {
	kafka       *kafkasink.Connection
	topic       string
	readTimeout time.Duration
	transport   *kafka.Transport
	client      *kafka.Client
	decode      func(context.Context, []byte) ([]byte, error) // Avro → JSON; nil: none

	mu       sync.Mutex
	keys     map[string]*entry
	next     map[int]int64 // per partition: the next offset to read
	messages int64
	exists   bool
}

func newTopicState(conn *kafkasink.Connection, topic string, readTimeout time.Duration) *topicState {
	// A private Transport: a shared one caches metadata for seconds.
	tr := conn.Transport(time.Second)
	return &topicState{
		kafka: conn, topic: topic, readTimeout: readTimeout, transport: tr,
		client: conn.Client(tr, 10*time.Second),
		keys:   map[string]*entry{}, next: map[int]int64{},
	}
}

func (s *topicState) close() { s.transport.CloseIdleConnections() }

// catchUp reads every partition from where the last call stopped (the
// first time: from its first offset) up to its high watermark as of now,
// and applies the messages. A topic that does not exist is empty.
func (s *topicState) catchUp(ctx context.Context) error {
	md, err := s.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.topic}})
	if err != nil {
		return fmt.Errorf("read metadata of topic %s: %w", s.topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != s.topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil
		}
		if t.Error != nil {
			return fmt.Errorf("read metadata of topic %s: %w", s.topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	s.exists = true
	res, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.topic: reqs}})
	if err != nil {
		return fmt.Errorf("list offsets of topic %s: %w", s.topic, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, po := range res.Topics[s.topic] {
		if po.Error != nil {
			return fmt.Errorf("list offsets of topic %s partition %d: %w", s.topic, po.Partition, po.Error)
		}
		start, ok := s.next[po.Partition]
		if !ok || start < po.FirstOffset {
			start = po.FirstOffset // messages before it were deleted by retention
		}
		end := po.LastOffset // the high watermark: one past the last message
		if start >= end {
			s.next[po.Partition] = start
			continue
		}
		p := po.Partition
		g.Go(func() error { return s.readPartition(gctx, p, start, end) })
		s.next[p] = end
	}
	return g.Wait()
}

// readPartition applies the messages of partition p in [start, end), in
// offset order. Keys live in one partition, so per-key order is kept.
func (s *topicState) readPartition(ctx context.Context, p int, start, end int64) error {
	r := s.kafka.Reader(kafka.ReaderConfig{
		Topic: s.topic, Partition: p,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return err
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, s.readTimeout)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read topic %s partition %d: nothing after offset %d for %s, high watermark %d: %w",
				s.topic, p, r.Offset(), s.readTimeout, end, err)
		}
		if m.Offset >= end {
			return nil // past the watermark (the last message was compacted away)
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
		if m.Offset+1 >= end {
			return nil
		}
	}
}

// event is what verify reads of an event; json.RawMessage keeps the after
// image's bytes exactly as the encoder wrote them.
type event struct {
	Op     string          `json:"op"`
	Key    json.RawMessage `json:"key"`
	After  json.RawMessage `json:"after"`
	Absent *struct {
		After []string `json:"after"`
	} `json:"absent"`
}

// apply upserts c/u/r by their after image, removes the key on d, clears
// the state on t and ignores tombstones.
func (s *topicState) apply(ctx context.Context, m kafka.Message) error {
	if m.Value == nil {
		return nil
	}
	if len(m.Value) > 0 && m.Value[0] == 0 { // the Confluent wire format: JSON starts with '{'
		if s.decode == nil {
			return fmt.Errorf("topic %s partition %d offset %d: an Avro message, and no schema registry configured", s.topic, m.Partition, m.Offset)
		}
		value, err := s.decode(ctx, m.Value)
		if err != nil {
			return fmt.Errorf("topic %s partition %d offset %d: decode Avro: %w", s.topic, m.Partition, m.Offset, err)
		}
		m.Value, m.Key = value, nil // the key as the JSON format writes it: the event's
	}
	var ev event
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		return fmt.Errorf("topic %s partition %d offset %d: not an event: %w", s.topic, m.Partition, m.Offset, err)
	}
	key := string(m.Key)
	if key == "" {
		key = string(ev.Key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages++
	switch ev.Op {
	case "c", "u", "r":
		if len(ev.After) == 0 || string(ev.After) == "null" {
			return fmt.Errorf("topic %s partition %d offset %d: op %q without after image", s.topic, m.Partition, m.Offset, ev.Op)
		}
		e := &entry{hash: sha256.Sum256(ev.After)}
		if ev.Absent != nil && len(ev.Absent.After) > 0 {
			e.absent = ev.Absent.After
		}
		s.keys[key] = e
	case "d":
		delete(s.keys, key)
	case "t":
		// Events of other partitions cannot be ordered against a truncate;
		// keys written after it are restored by their own later events.
		clear(s.keys)
	default:
		return fmt.Errorf("topic %s partition %d offset %d: unknown op %q", s.topic, m.Partition, m.Offset, ev.Op)
	}
	return nil
}
