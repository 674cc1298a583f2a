// Package config loads and validates the daemon's YAML configuration.
// Every error names the key it is about, e.g. `sources[crm].server_id`.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tributary-cdc/tributary/internal/cluster"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	_ "github.com/tributary-cdc/tributary/internal/sources" // the kinds sources[].kind can name
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Config is the whole daemon configuration.
type Config struct {
	Checkpoints Checkpoints      `yaml:"checkpoints"`
	Kafka       kafkasink.Config `yaml:"kafka"`
	Topics      Topics           `yaml:"topics"`
	Pipeline    Pipeline         `yaml:"pipeline"`
	Log         Log              `yaml:"log"`
	Admin       Admin            `yaml:"admin"`
	// SchemaRegistry is the Confluent-compatible schema registry that
	// sources with format: avro register their schemas with.
	SchemaRegistry schemaregistry.Config `yaml:"schema_registry"`
	Sources        []Source              `yaml:"sources"`
	// Mappings rename, mask, cast, filter and route tables' events; see
	// docs/mapping.md.
	Mappings []mapping.Config `yaml:"mappings"`
	// Cluster, when set, runs this daemon as one member of a group of
	// daemons with the same sources (internal/cluster); nil: alone.
	Cluster *cluster.Config `yaml:"cluster"`
}

// Checkpoints says where source positions are stored.
type Checkpoints struct {
	// Dir holds the Badger checkpoint store. One daemon per directory.
	Dir string `yaml:"dir"`
	// History is how many committed checkpoints per source are kept for
	// `checkpoints rewind`.
	History int `yaml:"history"`
}

// Topics names the Kafka topics events go to.
type Topics struct {
	// Prefix starts every topic name: <prefix>.<source>.<database>.<table>.
	Prefix string `yaml:"prefix"`
	// Tombstones writes a null-value message after each delete so that
	// compacted topics forget the key.
	Tombstones *bool `yaml:"tombstones"`
	// Transactions names the transaction metadata topic: a BEGIN and an END
	// record (with per-table event counts) for each source transaction
	// that produced events. Empty: none are written.
	Transactions string `yaml:"transactions"`
	// SchemaChanges names the topic that receives a record per schema
	// change (MySQL DDL, PostgreSQL relation changes). Empty: none.
	SchemaChanges string `yaml:"schema_changes"`
}

// kafkaTopicName is what Kafka accepts as a topic name.
var kafkaTopicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// Validate checks the optional side topics' names.
func (t Topics) Validate() error {
	var errs []error
	named := map[string]string{}
	for _, tp := range []struct{ key, name string }{
		{"topics.transactions", t.Transactions},
		{"topics.schema_changes", t.SchemaChanges},
	} {
		if tp.name == "" {
			continue
		}
		if !kafkaTopicName.MatchString(tp.name) || tp.name == "." || tp.name == ".." {
			errs = append(errs, fmt.Errorf("%s %q: want a Kafka topic name: 1-249 of A-Z, a-z, 0-9, '.', '_' and '-', not \".\" or \"..\"", tp.key, tp.name))
			continue
		}
		if other, ok := named[tp.name]; ok {
			errs = append(errs, fmt.Errorf("%s %q is also %s: each needs its own topic", tp.key, tp.name, other))
		}
		named[tp.name] = tp.key
	}
	return errors.Join(errs...)
}

// Pipeline tunes the loop between capture and sink.
type Pipeline struct {
	// MaxInFlight bounds events handed to Kafka but not yet acked; capture
	// pauses (backpressure) when it is reached, which bounds memory.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightBytes bounds the same events by their encoded size (keys
	// and values), so a transaction of large rows needs no more memory than
	// one of small rows: whichever bound is reached first pauses capture.
	MaxInFlightBytes int64 `yaml:"max_in_flight_bytes"`
	// CheckpointInterval is the longest time between checkpoint writes while
	// events are acked.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// RestartBackoffMin/Max bound the wait before a failed pipeline restarts
	// from its last checkpoint (retryable failures only).
	RestartBackoffMin time.Duration `yaml:"restart_backoff_min"`
	RestartBackoffMax time.Duration `yaml:"restart_backoff_max"`
	// ShutdownTimeout bounds the final flush on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// StallAfter is how long the server may have written past a source's
	// checkpoint without the checkpoint moving before the source counts as
	// stalled (/readyz 503, tributary_source_stalled 1, a WARN).
	StallAfter time.Duration `yaml:"stall_after"`
}

// Log configures the structured log on stderr.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Load reads, defaults and validates the file at path. Unknown keys are
// errors, so a typo cannot silently turn a setting off.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse is Load on bytes.
func Parse(data []byte) (*Config, error) {
	cfg := &Config{Kafka: kafkasink.Defaults()}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if unknown := unknownKeys(data); len(unknown) > 0 {
			return nil, fmt.Errorf("parse config: %s", strings.Join(unknown, "; "))
		}
		return nil, fmt.Errorf("parse config: %w", err)
	}
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) defaults() {
	if c.Checkpoints.History == 0 {
		c.Checkpoints.History = 100
	}
	if c.Topics.Prefix == "" {
		c.Topics.Prefix = "tributary"
	}
	if c.Topics.Tombstones == nil {
		t := true
		c.Topics.Tombstones = &t
	}
	p := &c.Pipeline
	setDefault(&p.MaxInFlight, 50000)
	setDefault(&p.MaxInFlightBytes, 16<<20)
	setDefault(&p.CheckpointInterval, time.Second)
	setDefault(&p.RestartBackoffMin, time.Second)
	setDefault(&p.RestartBackoffMax, time.Minute)
	setDefault(&p.ShutdownTimeout, 30*time.Second)
	setDefault(&p.StallAfter, 2*time.Minute)
	c.Admin.defaults()
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for i := range c.Sources {
		c.Sources[i].defaults()
	}
	if c.Cluster != nil {
		host, _ := os.Hostname()
		c.Cluster.SetDefaults(host, c.Kafka.ReplicationFactor)
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate checks every section and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	usesAvro := false
	if c.Checkpoints.Dir == "" {
		errs = append(errs, errors.New("checkpoints.dir is required: the directory for the checkpoint store"))
	}
	if c.Checkpoints.History < 1 {
		errs = append(errs, errors.New("checkpoints.history must be at least 1"))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Pipeline.MaxInFlight < 1 {
		errs = append(errs, errors.New("pipeline.max_in_flight must be at least 1"))
	}
	if c.Pipeline.MaxInFlightBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("pipeline.max_in_flight_bytes must be at least 65536 (64 KiB), got %d", c.Pipeline.MaxInFlightBytes))
	}
	if c.Pipeline.RestartBackoffMax < c.Pipeline.RestartBackoffMin {
		errs = append(errs, errors.New("pipeline.restart_backoff_max must not be below pipeline.restart_backoff_min"))
	}
	if err := c.Admin.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	if len(c.Sources) == 0 {
		errs = append(errs, errors.New("sources: configure at least one source"))
	}
	seen := map[string]bool{}
	ids := map[uint32]string{} // binlog server_id → source name
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			key = fmt.Sprintf("sources[%s]", s.Name)
		}
		if !sourceName.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q: want 1-64 of a-z, 0-9, _ and - (it names topics and checkpoints)", key, s.Name))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate source name", key))
		}
		seen[s.Name] = true
		if s.PasswordEnv != "" && s.PasswordFile != "" {
			errs = append(errs, fmt.Errorf("%s: set password_env or password_file, not both", key))
		}
		errs = append(errs, s.validateKind(key, ids)...)
		if err := s.Accuracy.validate(key, s.eventFlavour()); err != nil {
			errs = append(errs, err)
		}
		if s.Prefer != "" && c.Cluster == nil {
			errs = append(errs, fmt.Errorf("%s.prefer %q: only applies with cluster: (it names the member that should own the source)", key, s.Prefer))
		}
		switch s.Format {
		case "", "native", "debezium":
		case "avro":
			usesAvro = true
			switch s.Avro.Envelope {
			case "", "native", "debezium":
			default:
				errs = append(errs, fmt.Errorf("%s.avro.envelope %q: want native or debezium", key, s.Avro.Envelope))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.format %q: want native, debezium or avro", key, s.Format))
		}
		switch s.Debezium.BigintUnsigned {
		case "", "long", "precise":
		default:
			errs = append(errs, fmt.Errorf("%s.debezium.bigint_unsigned %q: want long or precise", key, s.Debezium.BigintUnsigned))
		}
		switch s.Debezium.Connector {
		case "", debezium.ConnectorMySQL, debezium.ConnectorMariaDB, debezium.ConnectorPostgreSQL:
		default:
			errs = append(errs, fmt.Errorf("%s.debezium.connector %q: want mysql, mariadb or postgresql", key, s.Debezium.Connector))
		}
	}
	for i, m := range c.Mappings {
		for _, src := range c.Sources {
			// Mapped events are native events: Debezium's Avro envelope,
			// derived from the table's Connect schema, cannot hold renamed,
			// masked, cast, dropped or added fields.
			if src.Format == "avro" && src.Avro.Envelope == "debezium" && (m.Source == "" || m.Source == src.Name) {
				errs = append(errs, fmt.Errorf("mappings[%d] applies to sources[%s], whose avro.envelope is debezium: mapped tables are written as native events, which Debezium's envelope cannot carry (set avro.envelope: native, or the mapping's source to another source)", i, src.Name))
			}
		}
	}
	switch {
	case usesAvro && !c.SchemaRegistry.Set():
		errs = append(errs, errors.New("schema_registry.url: required by the sources with format avro"))
	case c.SchemaRegistry.Set():
		if err := c.SchemaRegistry.Validate("schema_registry"); err != nil {
			errs = append(errs, err)
		}
		if c.SchemaRegistry.OnIncompatible == schemaregistry.DeadLetter && c.Kafka.DeadLetterTopic == "" {
			errs = append(errs, errors.New("schema_registry.on_incompatible: dead_letter needs kafka.dead_letter_topic"))
		}
	}
	if c.Cluster != nil {
		if err := c.Cluster.Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := c.validateClusterTopic(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.compileMappings(func(string) (string, bool) { return "x", true },
		func(string) ([]byte, error) { return []byte("x"), nil }); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Mapper compiles the mappings for running, reading mask salts from the
// environment and files now, so a missing salt stops the start.
func (c *Config) Mapper() (*mapping.Mapper, error) {
	if len(c.Mappings) == 0 {
		return nil, nil
	}
	names := make([]string, len(c.Sources))
	for i, s := range c.Sources {
		names[i] = s.Name
	}
	return mapping.Compile(c.Mappings, os.LookupEnv, mapping.WithTopicPrefix(c.Topics.Prefix), mapping.WithSources(names...))
}

// compileMappings checks the mappings' structure; env and readFile stand in
// for secrets, which Validate does not read.
func (c *Config) compileMappings(env func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	if len(c.Mappings) == 0 {
		return nil
	}
	names := make([]string, len(c.Sources))
	for i, s := range c.Sources {
		names[i] = s.Name
	}
	_, err := mapping.Compile(c.Mappings, env, mapping.WithTopicPrefix(c.Topics.Prefix),
		mapping.WithSources(names...), mapping.WithReadFile(readFile))
	return err
}

// validateClusterTopic keeps the checkpoint topic apart from the topics
// events go to.
func (c *Config) validateClusterTopic() error {
	t := c.Cluster.CheckpointTopic
	for key, name := range map[string]string{"topics.transactions": c.Topics.Transactions,
		"topics.schema_changes": c.Topics.SchemaChanges, "kafka.dead_letter_topic": c.Kafka.DeadLetterTopic} {
		if name != "" && name == t {
			return fmt.Errorf("cluster.checkpoint_topic %q is also %s: the checkpoints need a topic of their own", t, key)
		}
	}
	if strings.HasPrefix(t, c.Topics.Prefix+".") {
		return fmt.Errorf("cluster.checkpoint_topic %q starts with topics.prefix %q: events could be routed into it; choose another name", t, c.Topics.Prefix)
	}
	return nil
}
