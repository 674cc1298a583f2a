package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/transform"
)

// complete is every Writer's Completion callback. kafka-go calls it once per
// batch (all messages of one partition) from that partition's goroutine,
// before it takes the partition's next batch.
//
// Success acks the seqs. Failure first marks the sink failed (so Write
// stops accepting messages before anyone sees the failed ack), then acks the
// seqs with the error. A batch the broker rejected as too large that holds a
// single message is dead-lettered in dead_letter mode, and otherwise fails
// the sink with a permanent *OversizedError. The in-flight count drops only
// after the ack, so Flush returns once every ack was delivered.
func (s *Sink) complete(msgs []kafka.Message, err error) {
	if len(msgs) == 0 {
		return
	}
	seqs := make([]uint64, len(msgs))
	for i, m := range msgs {
		seqs[i] = metaOf(m).seq
	}
	defer s.inflight.release(len(msgs))
	if err == nil {
		bytes := 0
		for _, m := range msgs {
			bytes += len(m.Key) + len(m.Value)
		}
		s.metrics.Delivered(len(msgs), bytes)
		s.metrics.ObserveProduce(time.Since(metaOf(msgs[0]).written))
		s.ack(seqs, nil)
		return
	}
	m := msgs[0]
	if errors.Is(err, kafka.MessageSizeTooLarge) && len(msgs) == 1 {
		if handed := s.rejectedTooLarge(m); handed {
			return
		}
		meta := metaOf(m)
		err = errors.Join(err, &OversizedError{Topic: m.Topic, Describe: meta.describe, Seq: meta.seq,
			Size: recordSize(m), Limit: s.limitOf(m.Topic), LimitFrom: "rejected by the broker (MESSAGE_TOO_LARGE)"})
	}
	err = fmt.Errorf("produce %d messages to %s partition %d: %w", len(msgs), m.Topic, m.Partition, err)
	s.blowFuse(err)
	s.fail(err)
	s.ack(seqs, err)
}

// metaOf returns the metadata Write attached to m: a *msgMeta (one
// allocation per Write for all its messages), or a msgMeta value.
func metaOf(m kafka.Message) msgMeta {
	switch d := m.WriterData.(type) {
	case *msgMeta:
		return *d
	case msgMeta:
		return d
	}
	return msgMeta{}
}

// rejectedTooLarge dead-letters a message the broker refused as too large,
// when configured to. It reports whether the reference was handed over (its
// completion then acks the seq).
func (s *Sink) rejectedTooLarge(m kafka.Message) bool {
	meta := metaOf(m)
	if s.cfg.OnOversized != OversizedDeadLetter || meta.deadLetter {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	oe := &OversizedError{Topic: m.Topic, Describe: meta.describe, Seq: meta.seq, Size: recordSize(m),
		Limit: s.limitOf(m.Topic), LimitFrom: "rejected by the broker (MESSAGE_TOO_LARGE)"}
	dtw, ref, err := s.deadLetterRef(ctx, m, oe)
	if err == nil {
		// Counted without waiting for room: blocking here, on a partition's
		// goroutine, could wait for completions queued behind us.
		s.inflight.add(1)
		if err = dtw.w.WriteMessages(ctx, ref); err != nil {
			s.inflight.release(1)
		}
	}
	if err != nil {
		s.log.Error("dead-letter a message the broker rejected as too large", "topic", m.Topic, "message", meta.describe, "err", err)
		return false
	}
	s.log.Warn("message rejected by the broker as too large sent to dead letter topic", "topic", m.Topic, "message", meta.describe, "seq", meta.seq)
	s.deadLettered()
	return true
}

// deadLetterRef builds the reference for an oversized message, keyed like
// the original, and returns the dead letter topic's writer.
func (s *Sink) deadLetterRef(ctx context.Context, m kafka.Message, oe *OversizedError) (*topicWriter, kafka.Message, error) {
	dtw, err := s.topic(ctx, s.cfg.DeadLetterTopic)
	if err != nil {
		return nil, kafka.Message{}, fmt.Errorf("dead letter topic: %w", err)
	}
	value := transform.DeadLetter{
		Kind: transform.DeadLetterOversized, Reason: "oversized", Topic: oe.Topic, Key: m.Key,
		Size: oe.Size, Limit: oe.Limit, Seq: oe.Seq,
	}.Encode()
	ref := kafka.Message{
		Topic:      s.cfg.DeadLetterTopic,
		Key:        m.Key,
		Value:      value,
		WriterData: &msgMeta{seq: oe.Seq, describe: oe.Describe, deadLetter: true},
	}
	return dtw, ref, nil
}

// limitOf returns the cached message limit of topic, 0 if unknown.
func (s *Sink) limitOf(topic string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tw := s.topics[topic]; tw != nil {
		return tw.limit
	}
	return 0
}
