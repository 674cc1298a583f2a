package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// defaultAdminTimeout bounds admin waits when the caller's context has no
// deadline.
const defaultAdminTimeout = 30 * time.Second

// EnsureTopic makes sure topic exists, creating it with the given
// partitions, replication factor and topic configs if it does not. A topic
// created concurrently by someone else counts as existing. It returns once
// the client's metadata shows every partition with a leader, so a Writer
// sharing the client's Transport can produce right away. (kafka.Transport
// serves metadata from a cache refreshed every MetadataTTL, 6s by default;
// only the Transport that created the topic refreshes at once. A Writer on
// another Transport may get UnknownTopicOrPartition until its refresh.)
//
// An existing topic is left as it is, even if its settings differ.
func EnsureTopic(ctx context.Context, client *kafka.Client, topic string, partitions, replicationFactor int, configs ...kafka.ConfigEntry) error {
	state, err := topicState(ctx, client, topic)
	if err != nil {
		return err
	}
	if state == topicReady {
		return nil
	}
	if state == topicMissing {
		res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
			Topics: []kafka.TopicConfig{{
				Topic:             topic,
				NumPartitions:     partitions,
				ReplicationFactor: replicationFactor,
				ConfigEntries:     configs,
			}},
		})
		if err != nil {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
	}
	return waitTopicReady(ctx, client, topic)
}

type topicStatus int

const (
	topicMissing topicStatus = iota
	topicNotReady
	topicReady
)

// topicState looks topic up in the client's metadata. The default
// kafka.Transport serves metadata from a cache refreshed every
// MetadataTTL, so a topic created by another process may look missing for
// that long.
func topicState(ctx context.Context, client *kafka.Client, topic string) (topicStatus, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("read metadata of topic %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			return topicMissing, nil
		case t.Error != nil || len(t.Partitions) == 0:
			return topicNotReady, nil
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return topicNotReady, nil
			}
		}
		return topicReady, nil
	}
	return topicMissing, nil
}

// waitTopicReady polls until topic has a leader for every partition.
func waitTopicReady(ctx context.Context, client *kafka.Client, topic string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultAdminTimeout)
		defer cancel()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		state, err := topicState(ctx, client, topic)
		if err == nil && state == topicReady {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("wait for topic %s to be ready: %w", topic, err)
		case <-tick.C:
		}
	}
}

// ReadTopic reads topic from the beginning of every partition (one
// kafka.Reader per partition, no consumer group, partitions found through
// kafka.Client.Metadata) until want messages were read or timeout passed.
// On timeout it returns what it read with an error. Messages of one
// partition are in offset order; partitions are interleaved. It is meant for
// tests and tools, not for production consumption.
func ReadTopic(ctx context.Context, brokers []string, topic string, want int, timeout time.Duration) ([]kafka.Message, error) {
	conn, err := NewConnection(Config{Brokers: brokers})
	if err != nil {
		return nil, err
	}
	return conn.ReadTopic(ctx, topic, want, timeout)
}

// ReadTopic is ReadTopic over c's connection settings.
func (c *Connection) ReadTopic(ctx context.Context, topic string, want int, timeout time.Duration) ([]kafka.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// A private Transport: a shared one caches metadata and might not know
	// a topic created through another client yet.
	transport := c.Transport(0)
	defer transport.CloseIdleConnections()
	client := c.Client(transport, 0)
	if err := waitTopicReady(ctx, client, topic); err != nil {
		return nil, err
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata of topic %s: %w", topic, err)
	}
	var partitions []int
	for _, t := range md.Topics {
		if t.Name == topic {
			for _, p := range t.Partitions {
				partitions = append(partitions, p.ID)
			}
		}
	}

	out := make(chan kafka.Message)
	var wg sync.WaitGroup
	for _, p := range partitions {
		r := c.Reader(kafka.ReaderConfig{
			Topic:     topic,
			Partition: p,
			MinBytes:  1,
			MaxBytes:  16 << 20,
			MaxWait:   100 * time.Millisecond,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return // ctx ended; the collector reports it
				}
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	var msgs []kafka.Message
	var rerr error
	for len(msgs) < want && rerr == nil {
		select {
		case m := <-out:
			msgs = append(msgs, m)
		case <-ctx.Done():
			rerr = fmt.Errorf("read topic %s: got %d of %d messages: %w", topic, len(msgs), want, ctx.Err())
		}
	}
	cancel()
	wg.Wait()
	return msgs, rerr
}
