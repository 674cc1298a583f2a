package kafkasink

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// OnOversized says what the sink does with a message larger than its
// topic's limit (see Config.OnOversized).
type OnOversized string

const (
	// OversizedHalt makes Write return a permanent *OversizedError and the
	// sink stop: the message is never dropped silently; an operator raises
	// the topic's max.message.bytes (and kafka.batch_bytes) or switches to
	// dead_letter, then restarts.
	OversizedHalt OnOversized = "halt"
	// OversizedDeadLetter writes a small JSON reference to
	// Config.DeadLetterTopic instead of the message (same key) and acks the
	// message's seq once that reference is acked. The row's data is not in
	// Kafka: consumers must fetch it from the source if they need it.
	OversizedDeadLetter OnOversized = "dead_letter"
)

// Config is the `kafka` section of the configuration.
//
// Load it by decoding YAML over Defaults() (so unset keys keep their
// defaults, including create_topics: true), then call Validate. Durations
// are Go duration strings ("10ms", "1s"); gopkg.in/yaml.v3 decodes them
// into time.Duration.
type Config struct {
	// Brokers are bootstrap addresses, host:port.
	Brokers []string `yaml:"brokers"`
	// ClientID is sent to the brokers (shows up in broker logs and quotas).
	ClientID string `yaml:"client_id"`
	// RequiredAcks must be "all": the broker acks only once every in-sync
	// replica has the batch. Weaker settings ("one", "none") could lose
	// acked messages, which would break checkpointing, so they are refused.
	RequiredAcks string `yaml:"required_acks"`
	// BatchSize is the most messages per produce request and partition.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes bounds the uncompressed size of one produce batch, and
	// (kafka-go uses the same field) of a single message. It must be at
	// least the largest message any topic accepts, or large messages are
	// treated as oversized even where the topic would take them.
	BatchBytes int64 `yaml:"batch_bytes"`
	// BatchTimeout is how long a partly filled batch waits for more
	// messages. kafka-go's own default of 1s adds up to a second of latency
	// to every message when traffic is low; 10ms keeps latency small while
	// still batching well under load (the batch also goes out when full).
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// Compression is none, gzip, snappy, lz4 (default) or zstd.
	Compression string `yaml:"compression"`
	// MaxAttempts is how often kafka-go tries a batch before failing it
	// (which fails the sink, see the package doc).
	MaxAttempts int `yaml:"max_attempts"`
	// WriteBackoffMin and WriteBackoffMax bound the wait between attempts.
	WriteBackoffMin time.Duration `yaml:"write_backoff_min"`
	WriteBackoffMax time.Duration `yaml:"write_backoff_max"`
	// WriteTimeout bounds one produce request.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxInFlight is how many written but not yet completed messages the
	// sink holds before Write blocks (backpressure).
	MaxInFlight int `yaml:"max_in_flight"`

	// CreateTopics makes the sink create a missing topic before its first
	// write, with Partitions and ReplicationFactor. When false, writing to a
	// missing topic fails.
	CreateTopics      bool `yaml:"create_topics"`
	Partitions        int  `yaml:"partitions"`
	ReplicationFactor int  `yaml:"replication_factor"`

	// OnOversized is halt (default) or dead_letter.
	OnOversized OnOversized `yaml:"on_oversized"`
	// DeadLetterTopic receives references to oversized messages; required
	// with on_oversized: dead_letter.
	DeadLetterTopic string `yaml:"dead_letter_topic"`

	// TLS and SASL secure the connections to the brokers (security.go).
	TLS  TLS  `yaml:"tls"`
	SASL SASL `yaml:"sasl"`
}

// Defaults returns a Config with every default set and no brokers.
func Defaults() Config {
	return Config{
		RequiredAcks:      "all",
		BatchSize:         1000,
		BatchBytes:        1 << 20,
		BatchTimeout:      10 * time.Millisecond,
		Compression:       "lz4",
		MaxAttempts:       10,
		WriteBackoffMin:   100 * time.Millisecond,
		WriteBackoffMax:   time.Second,
		WriteTimeout:      10 * time.Second,
		MaxInFlight:       100_000,
		CreateTopics:      true,
		Partitions:        3,
		ReplicationFactor: 1,
		OnOversized:       OversizedHalt,
	}
}

// Validate reports every invalid setting, each naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("kafka.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "at least one broker is required")
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad("brokers", "%q is not host:port", b)
		}
	}
	if c.RequiredAcks != "all" {
		bad("required_acks", "must be \"all\" (got %q): weaker acks can lose acknowledged messages", c.RequiredAcks)
	}
	if c.BatchSize < 1 {
		bad("batch_size", "must be at least 1 (got %d)", c.BatchSize)
	}
	if c.BatchBytes < 1024 {
		bad("batch_bytes", "must be at least 1024 (got %d)", c.BatchBytes)
	}
	if c.BatchTimeout <= 0 {
		bad("batch_timeout", "must be positive (got %s)", c.BatchTimeout)
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		bad("compression", "%v", err)
	}
	if c.MaxAttempts < 1 {
		bad("max_attempts", "must be at least 1 (got %d)", c.MaxAttempts)
	}
	if c.WriteBackoffMin <= 0 {
		bad("write_backoff_min", "must be positive (got %s)", c.WriteBackoffMin)
	}
	if c.WriteBackoffMax < c.WriteBackoffMin {
		bad("write_backoff_max", "must be at least write_backoff_min (%s, got %s)", c.WriteBackoffMin, c.WriteBackoffMax)
	}
	if c.WriteTimeout <= 0 {
		bad("write_timeout", "must be positive (got %s)", c.WriteTimeout)
	}
	if c.MaxInFlight < c.BatchSize {
		bad("max_in_flight", "must be at least batch_size (%d, got %d)", c.BatchSize, c.MaxInFlight)
	}
	if c.CreateTopics {
		if c.Partitions < 1 {
			bad("partitions", "must be at least 1 (got %d)", c.Partitions)
		}
		if c.ReplicationFactor < 1 {
			bad("replication_factor", "must be at least 1 (got %d)", c.ReplicationFactor)
		}
	}
	switch c.OnOversized {
	case OversizedHalt:
	case OversizedDeadLetter:
		if c.DeadLetterTopic == "" {
			bad("dead_letter_topic", "is required when on_oversized is dead_letter")
		}
	default:
		bad("on_oversized", "must be halt or dead_letter (got %q)", c.OnOversized)
	}
	errs = append(errs, c.validateSecurity()...)
	return errors.Join(errs...)
}

func compressionCodec(name string) (kafka.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("must be none, gzip, snappy, lz4 or zstd (got %q)", name)
}
