package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// recordSize is exactly kafka-go's own estimate of a message's size
// (kafka.Message.totalSize): the number it compares with
// Writer.BatchBytes, and a close upper bound of the record's size on the
// wire (record overhead is under 22 bytes in practice).
func recordSize(m kafka.Message) int {
	n := 4 + 1 + 1 + (4 + len(m.Key)) + (4 + len(m.Value)) + 8
	n += varintLen(len(m.Headers))
	for _, h := range m.Headers {
		n += varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
	}
	return n
}

// varintLen is the size of n as a zigzag varint.
func varintLen(n int) int {
	u := uint64(n) << 1 // zigzag of a non-negative number
	size := 1
	for u >= 0x80 {
		u >>= 7
		size++
	}
	return size
}

// batchSlack is kept free below a topic's max.message.bytes for the record
// batch header (61 bytes) and for compression of incompressible data, which
// can grow it slightly (lz4: under 1/255).
func batchSlack(maxMessageBytes int) int {
	return 61 + maxMessageBytes/128 + 64
}

// messageLimit returns the largest recordSize the sink hands to kafka-go for
// topic, and where the number comes from. The same number is that topic's
// Writer.BatchBytes, which kafka-go applies both to a whole batch and to a
// single message (WriteMessages fails a message larger than BatchBytes with
// its own MessageTooLargeError): so our check fires first with a clearer
// error, and no batch can grow past the topic's limit.
func (s *Sink) messageLimit(ctx context.Context, topic string) (int, string, error) {
	max, from, err := maxMessageBytes(ctx, s.client, topic)
	if err != nil {
		return 0, "", err
	}
	limit := max - batchSlack(max)
	from = fmt.Sprintf("%s=%d less %d bytes batch overhead", from, max, batchSlack(max))
	if int64(limit) > s.cfg.BatchBytes {
		limit, from = int(s.cfg.BatchBytes), fmt.Sprintf("kafka.batch_bytes=%d", s.cfg.BatchBytes)
	}
	if limit < 1 {
		return 0, "", fmt.Errorf("topic %s: %s leaves no room for messages", topic, from)
	}
	return limit, from, nil
}

// maxMessageBytes reads the topic's max.message.bytes, falling back to the
// controller's message.max.bytes when the topic does not report it.
func maxMessageBytes(ctx context.Context, client *kafka.Client, topic string) (int, string, error) {
	v, err := describeConfig(ctx, client, kafka.ResourceTypeTopic, topic, "max.message.bytes")
	if err == nil && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, "", fmt.Errorf("topic %s: parse max.message.bytes %q: %w", topic, v, err)
		}
		return n, "max.message.bytes", nil
	}
	md, merr := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if merr != nil {
		return 0, "", fmt.Errorf("topic %s: read max.message.bytes: %w", topic, errors.Join(err, merr))
	}
	v, berr := describeConfig(ctx, client, kafka.ResourceTypeBroker, strconv.Itoa(md.Controller.ID), "message.max.bytes")
	if berr != nil || v == "" {
		return 0, "", fmt.Errorf("topic %s: read max.message.bytes or broker message.max.bytes: %w", topic, errors.Join(err, berr))
	}
	n, perr := strconv.Atoi(v)
	if perr != nil {
		return 0, "", fmt.Errorf("parse broker message.max.bytes %q: %w", v, perr)
	}
	return n, "broker message.max.bytes", nil
}

func describeConfig(ctx context.Context, client *kafka.Client, typ kafka.ResourceType, name, key string) (string, error) {
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: typ,
			ResourceName: name,
			ConfigNames:  []string{key},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("describe configs of %s: %w", name, err)
	}
	for _, r := range res.Resources {
		if r.Error != nil {
			return "", fmt.Errorf("describe configs of %s: %w", name, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == key {
				return e.ConfigValue, nil
			}
		}
	}
	return "", nil
}
