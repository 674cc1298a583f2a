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

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
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
	Sources     []Source         `yaml:"sources"`
	// Mappings rename, mask, cast, filter and route tables' events; see
	// docs/mapping.md.
	Mappings []mapping.Config `yaml:"mappings"`
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
	// CheckpointInterval is the longest time between checkpoint writes while
	// events are acked.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// RestartBackoffMin/Max bound the wait before a failed pipeline restarts
	// from its last checkpoint (retryable failures only).
	RestartBackoffMin time.Duration `yaml:"restart_backoff_min"`
	RestartBackoffMax time.Duration `yaml:"restart_backoff_max"`
	// ShutdownTimeout bounds the final flush on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures the structured log on stderr.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Source is one database to capture. Common keys come first; the rest
// apply to one kind only and are refused for the other.
type Source struct {
	// Name identifies the source in topics, event ids and checkpoints; it
	// must not change once events were produced.
	Name string `yaml:"name"`
	// Kind is the source type: mysql (MySQL or MariaDB, the default) or
	// postgres.
	Kind string `yaml:"kind"`
	Addr string `yaml:"addr"`
	User string `yaml:"user"`
	// PasswordEnv and PasswordFile say where the password comes from;
	// Password inline is accepted for local demos only.
	PasswordEnv    string `yaml:"password_env"`
	PasswordFile   string `yaml:"password_file"`
	InlinePassword string `yaml:"password"`
	// Include and Exclude are db.table (MySQL) or schema.table (PostgreSQL)
	// globs; KeyColumns names the key of tables without a primary key.
	Include    []string            `yaml:"include"`
	Exclude    []string            `yaml:"exclude"`
	KeyColumns map[string][]string `yaml:"key_columns"`
	Heartbeat  time.Duration       `yaml:"heartbeat"`
	// ReadTimeout drops a connection that stays silent this long (a
	// half-open connection is noticed, then resumed from the checkpoint).
	ReadTimeout time.Duration `yaml:"read_timeout"`

	// Format is native (Tributary's canonical event, the default) or
	// debezium (Debezium's JsonConverter envelope; see docs/debezium.md).
	Format   string   `yaml:"format"`
	Debezium Debezium `yaml:"debezium"`

	// Snapshot reads existing rows (mode never|initial|when_needed).
	Snapshot snapshot.Config `yaml:"snapshot"`

	// TLS encrypts every connection to the database: mode disable,
	// prefer (the default), require, verify-ca or verify-full.
	TLS tlsconf.Client `yaml:"tls"`

	// MySQL / MariaDB only.
	Flavor   mysqlsource.Flavor `yaml:"flavor"`
	ServerID uint32             `yaml:"server_id"`

	// PostgreSQL only.
	Database          string        `yaml:"database"`
	SSLMode           string        `yaml:"sslmode"`
	Slot              string        `yaml:"slot"`
	Publication       string        `yaml:"publication"`
	CreateSlot        *bool         `yaml:"create_slot"`
	CreatePublication *bool         `yaml:"create_publication"`
	StatusInterval    time.Duration `yaml:"status_interval"`
}

// Postgres returns the source's settings for capture/postgres.
func (s Source) Postgres() pgsource.Config {
	c := pgsource.Config{
		Addr: s.Addr, User: s.User, Password: s.InlinePassword, Database: s.Database, SSLMode: s.SSLMode, TLS: s.TLS,
		Slot: s.Slot, Publication: s.Publication, CreateSlot: s.CreateSlot, CreatePublication: s.CreatePublication,
		Include: s.Include, Exclude: s.Exclude, KeyColumns: s.KeyColumns,
		StatusInterval: s.StatusInterval, Heartbeat: s.Heartbeat, ReadTimeout: s.ReadTimeout,
		Snapshot: s.Snapshot,
	}
	c.Defaults(s.Name)
	return c
}

// foreignKeys lists the keys set on s that belong to the other kind.
func (s Source) foreignKeys() []string {
	var keys []string
	set := func(ok bool, key string) {
		if ok {
			keys = append(keys, key)
		}
	}
	switch s.Kind {
	case "mysql":
		set(s.Database != "", "database")
		set(s.SSLMode != "", "sslmode")
		set(s.Slot != "", "slot")
		set(s.Publication != "", "publication")
		set(s.CreateSlot != nil, "create_slot")
		set(s.CreatePublication != nil, "create_publication")
		set(s.StatusInterval != 0, "status_interval")
	case "postgres":
		set(s.Flavor != "", "flavor")
		set(s.ServerID != 0, "server_id")
	}
	return keys
}

// Debezium tunes the debezium output format of a source.
type Debezium struct {
	Schemas        bool   `yaml:"schemas"`         // JsonConverter schemas.enable
	Connector      string `yaml:"connector"`       // mysql | mariadb | postgresql; default from the source
	TopicPrefix    string `yaml:"topic_prefix"`    // Debezium topic.prefix; default the source name
	BigintUnsigned string `yaml:"bigint_unsigned"` // long (default) | precise
}

// DebeziumOptions returns the encoder options for a debezium-format source.
func (s Source) DebeziumOptions() debezium.Options {
	o := debezium.Options{
		Schemas: s.Debezium.Schemas, ConnectorName: s.Debezium.Connector, TopicPrefix: s.Debezium.TopicPrefix,
		BigintUnsigned: debezium.BigintUnsignedMode(s.Debezium.BigintUnsigned),
	}
	switch {
	case o.ConnectorName != "":
	case s.Kind == "postgres":
		o.ConnectorName = debezium.ConnectorPostgreSQL
	case s.Flavor == mysqlsource.FlavorMySQL:
		o.ConnectorName = debezium.ConnectorMySQL
	default:
		o.ConnectorName = debezium.ConnectorMariaDB
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = s.Name
	}
	if o.BigintUnsigned == "" {
		o.BigintUnsigned = debezium.BigintUnsignedLong
	}
	if s.Kind == "postgres" {
		o.Database = s.Database
	}
	return o
}

// MySQL returns the source's settings for capture/mysql, password included.
func (s Source) MySQL() mysqlsource.Config {
	c := mysqlsource.Config{
		Addr: s.Addr, User: s.User, Password: s.InlinePassword, ServerID: s.ServerID, Flavor: s.Flavor,
		Include: s.Include, Exclude: s.Exclude, KeyColumns: s.KeyColumns,
		Heartbeat: s.Heartbeat, ReadTimeout: s.ReadTimeout, Snapshot: s.Snapshot, TLS: s.TLS,
	}
	c.Defaults()
	return c
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
	setDefault(&p.CheckpointInterval, time.Second)
	setDefault(&p.RestartBackoffMin, time.Second)
	setDefault(&p.RestartBackoffMax, time.Minute)
	setDefault(&p.ShutdownTimeout, 30*time.Second)
	c.Admin.defaults()
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for i := range c.Sources {
		if c.Sources[i].Kind == "" {
			c.Sources[i].Kind = "mysql"
		}
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
	ids := map[uint32]string{}
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
		switch s.Kind {
		case "mysql":
			if err := s.MySQL().Validate(key); err != nil {
				errs = append(errs, err)
			}
			if other, ok := ids[s.ServerID]; ok && s.ServerID != 0 {
				errs = append(errs, fmt.Errorf("%s.server_id %d is also used by source %s: each binlog reader needs its own", key, s.ServerID, other))
			}
			ids[s.ServerID] = s.Name
		case "postgres":
			if err := s.Postgres().Validate(key); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, fmt.Errorf("%s.kind %q: want mysql or postgres", key, s.Kind))
		}
		switch s.Format {
		case "", "native", "debezium":
		default:
			errs = append(errs, fmt.Errorf("%s.format %q: want native or debezium", key, s.Format))
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
		for _, k := range s.foreignKeys() {
			errs = append(errs, fmt.Errorf("%s.%s does not apply to kind %s", key, k, s.Kind))
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

// Password resolves the source's password from its env var or file. A
// password written inline in the config is accepted for local demos.
func (s Source) Password() (string, error) {
	switch {
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("sources[%s].password_env: environment variable %s is not set", s.Name, s.PasswordEnv)
		}
		return v, nil
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("sources[%s].password_file: %w", s.Name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	default:
		return s.InlinePassword, nil
	}
}
