package kafkasink

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() Config { c := Defaults(); c.Brokers = []string{"127.0.0.1:9092"}; return c }
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults with broker", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "kafka.brokers: at least one broker is required"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"localhost"} }, "kafka.brokers: \"localhost\" is not host:port"},
		{"acks one", func(c *Config) { c.RequiredAcks = "one" }, "kafka.required_acks: must be \"all\""},
		{"batch size zero", func(c *Config) { c.BatchSize = 0 }, "kafka.batch_size:"},
		{"batch bytes tiny", func(c *Config) { c.BatchBytes = 10 }, "kafka.batch_bytes:"},
		{"batch timeout zero", func(c *Config) { c.BatchTimeout = 0 }, "kafka.batch_timeout:"},
		{"compression brotli", func(c *Config) { c.Compression = "brotli" }, "kafka.compression: must be none, gzip, snappy, lz4 or zstd"},
		{"compression none", func(c *Config) { c.Compression = "none" }, ""},
		{"compression zstd", func(c *Config) { c.Compression = "zstd" }, ""},
		{"max attempts zero", func(c *Config) { c.MaxAttempts = 0 }, "kafka.max_attempts:"},
		{"backoff max below min", func(c *Config) { c.WriteBackoffMax = time.Millisecond }, "kafka.write_backoff_max:"},
		{"in flight below batch", func(c *Config) { c.MaxInFlight = 10 }, "kafka.max_in_flight:"},
		{"partitions zero", func(c *Config) { c.Partitions = 0 }, "kafka.partitions:"},
		{"partitions ignored without create", func(c *Config) { c.Partitions = 0; c.CreateTopics = false }, ""},
		{"replication zero", func(c *Config) { c.ReplicationFactor = 0 }, "kafka.replication_factor:"},
		{"on_oversized unknown", func(c *Config) { c.OnOversized = "drop" }, "kafka.on_oversized: must be halt or dead_letter"},
		{"dead letter without topic", func(c *Config) { c.OnOversized = OversizedDeadLetter }, "kafka.dead_letter_topic: is required"},
		{"dead letter with topic", func(c *Config) { c.OnOversized = OversizedDeadLetter; c.DeadLetterTopic = "dlq" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
