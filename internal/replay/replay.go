// Package replay re-sends a stretch of a MySQL/MariaDB source's binlog
// history into one Kafka topic, beside a running daemon: it registers with a
// server_id of its own, never opens the checkpoint store, and encodes events
// with the pipeline's own encoder (internal/encode: the source's mappings and
// masks, its output format, ids, keys and tombstones), so one consumer can be
// repaired without disturbing the others. Rows the mapping dead-letters are
// logged, not replayed; transaction metadata and schema records are not
// replayed either.
//
// The range is given as two binlog positions. Reading starts at From, which
// must be a transaction boundary (a checkpoint position, or an event's
// source.position); it stops after the first transaction whose commit
// position is at or past To, that transaction included.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/sink"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform"
)

// ServerIDOffset is added to the source's configured server_id when
// Options.ServerID is zero: the replay must register with the server as a
// replica distinct from the running daemon, or the server would drop one of
// the two connections.
const ServerIDOffset = 1000

// DefaultProgressEvery is how often progress is written when
// Options.ProgressEvery is zero.
const DefaultProgressEvery = 5 * time.Second

// ErrNoHistory is returned for a source whose kind keeps no history to
// re-read (capture.Registration.NoHistory says why: PostgreSQL keeps no WAL
// behind the slot's confirmed_flush_lsn).
var ErrNoHistory = errors.New("replay needs binlog history")

// Options says what to replay where.
type Options struct {
	Config *config.Config
	Source string // a configured source's name
	// From and To are binlog positions, file:pos or file:pos@gtidset.
	From, To string
	// Topic receives every replayed message; it is created with the
	// kafka section's create_topics settings. It must not be one of the
	// daemon's live topics.
	Topic string
	// ServerID is the replica id the replay registers with; 0 means the
	// source's server_id + ServerIDOffset.
	ServerID uint32
	// Progress receives a line every ProgressEvery while the replay runs;
	// nil writes none.
	Progress      io.Writer
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// Run replays opts.From through the first commit at or past opts.To into
// opts.Topic, waits until Kafka acked every message, and returns what was
// sent. It returns an error if any message failed: Summary.Acked then says
// how many made it (the topic may hold a part of the range; consumers
// de-duplicate by event id, so running the replay again is safe).
func Run(ctx context.Context, opts Options) (Summary, error) {
	sc, p, err := prepare(opts)
	if err != nil {
		return Summary{}, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "replay", "source", sc.Name)
	binlog, ok := sc.Settings.(*mysqlsource.Config)
	if !ok {
		return p.summary(), fmt.Errorf("sources[%s] is kind %s: replay reads binlogs", sc.Name, sc.Kind)
	}
	mc := *binlog
	mc.Snapshot = mysqlsource.SnapshotConfig{} // a purged --from must fail, never turn into a snapshot
	if mc.Password, err = sc.Password(); err != nil {
		return p.summary(), err
	}
	mc.ServerID = p.serverID
	src, err := mysqlsource.New(sc.Name, mc, logger)
	if err != nil {
		return p.summary(), err
	}
	defer src.Close()
	if err := checkReachable(ctx, src, p.to); err != nil {
		return p.summary(), err
	}
	cfg := opts.Config
	newSink := func(ack sink.AckFunc) (sink.Sink, error) {
		return kafkasink.New(cfg.Kafka, ack, logger)
	}
	mapper, err := cfg.Mapper() // reads mask salts: replayed rows are masked as live ones
	if err != nil {
		return p.summary(), err
	}
	p.encoding = encode.Config{
		Source: sc.Name, TopicPrefix: cfg.Topics.Prefix, Tombstones: *cfg.Topics.Tombstones,
		Mapper: mapper, DeadLetterTopic: cfg.Kafka.DeadLetterTopic,
	}
	switch sc.Format {
	case "debezium":
		o := sc.DebeziumOptions()
		p.encoding.Debezium = &o
	case "avro":
		// The same registry and subjects as the live stream: a replayed
		// row carries the id its schema has there.
		reg, err := schemaregistry.New(cfg.SchemaRegistry, "schema_registry")
		if err != nil {
			return p.summary(), err
		}
		p.encoding.Registry = reg
		if sc.Avro.Envelope == "debezium" {
			o := sc.DebeziumOptions()
			p.encoding.AvroDebezium = &o
		}
	}
	p.shutdownTimeout = cfg.Pipeline.ShutdownTimeout
	p.progress, p.progressEvery, p.logger = opts.Progress, opts.ProgressEvery, logger
	return replay(ctx, src, newSink, p)
}

// params is a validated replay request.
type params struct {
	source, topic   string
	connector       string
	serverID        uint32
	from, to        mysqlsource.Position
	encoding        encode.Config // the source's output, as the pipeline writes it
	shutdownTimeout time.Duration
	progress        io.Writer
	progressEvery   time.Duration
	logger          *slog.Logger
}

func (p params) summary() Summary {
	return Summary{Source: p.source, Topic: p.topic, ServerID: p.serverID, From: p.from.String(), To: p.to.String()}
}

// prepare checks opts without contacting any server.
func prepare(opts Options) (config.Source, params, error) {
	cfg := opts.Config
	if cfg == nil {
		return config.Source{}, params{}, errors.New("replay: no configuration")
	}
	sc, err := findSource(cfg, opts.Source)
	if err != nil {
		return sc, params{}, err
	}
	reg, ok := sc.Registration()
	if !ok {
		return sc, params{}, fmt.Errorf("sources[%s] is of unknown kind %q", sc.Name, sc.Kind)
	}
	if !reg.CanReplay() {
		return sc, params{}, fmt.Errorf("%w: sources[%s] is a %s source, and %s", ErrNoHistory, sc.Name, reg.Title, reg.NoHistory)
	}
	p := params{source: sc.Name, topic: opts.Topic, connector: string(sc.Kind)}
	if p.from, err = mysqlsource.ParsePosition(opts.From); err != nil {
		return sc, p, fmt.Errorf("--from: %w", err)
	}
	if p.to, err = mysqlsource.ParsePosition(opts.To); err != nil {
		return sc, p, fmt.Errorf("--to: %w", err)
	}
	if p.from.Compare(p.to) >= 0 {
		return sc, p, fmt.Errorf("--from %s is not before --to %s", p.from, p.to)
	}
	if err := checkTopic(cfg, opts.Topic); err != nil {
		return sc, p, err
	}
	p.serverID, err = serverID(cfg, sc, reg, opts.ServerID)
	return sc, p, err
}

func findSource(cfg *config.Config, name string) (config.Source, error) {
	var names []string
	for _, s := range cfg.Sources {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return config.Source{}, fmt.Errorf("source %q is not in the config (sources: %s)", name, strings.Join(names, ", "))
}

// serverID resolves the replica id and refuses one a configured source
// reads with: the server allows one connection per server_id.
func serverID(cfg *config.Config, sc config.Source, reg capture.Registration, requested uint32) (uint32, error) {
	if !reg.UsesServerID() {
		return 0, fmt.Errorf("sources[%s] is kind %s, which reads no binlog as a replica", sc.Name, sc.Kind)
	}
	id := requested
	if id == 0 {
		own := reg.ServerID(sc.Settings)
		if uint64(own)+ServerIDOffset > math.MaxUint32 {
			return 0, fmt.Errorf("sources[%s].server_id %d + %d overflows; pass --server-id", sc.Name, own, ServerIDOffset)
		}
		id = own + ServerIDOffset
	}
	for _, s := range cfg.Sources {
		if r, ok := s.Registration(); ok && r.UsesServerID() && r.ServerID(s.Settings) == id {
			return 0, fmt.Errorf("server_id %d is sources[%s].server_id, which the running daemon reads the binlog with; the server would drop one of two replicas sharing it — pass another --server-id", id, s.Name)
		}
	}
	return id, nil
}

// checkTopic refuses names Kafka rejects and the daemon's own topics: the
// replay is for one consumer, and a live topic has others.
func checkTopic(cfg *config.Config, topic string) error {
	if topic == "" || topic == "." || topic == ".." || len(topic) > 249 {
		return fmt.Errorf("--topic %q: want a Kafka topic name of 1 to 249 characters", topic)
	}
	for _, r := range topic {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("--topic %q: Kafka topic names allow only letters, digits, '.', '_' and '-'", topic)
		}
	}
	if topic == cfg.Kafka.DeadLetterTopic {
		return fmt.Errorf("--topic %s is kafka.dead_letter_topic; replay into a topic of its own", topic)
	}
	for _, s := range cfg.Sources {
		prefix := strings.TrimSuffix(transform.TopicName(cfg.Topics.Prefix, s.Name, "d", "t"), "d.t")
		if strings.HasPrefix(topic, prefix) {
			return fmt.Errorf("--topic %s is among source %s's live topics (%s*), whose other consumers would get the replay too; replay into a topic of its own", topic, s.Name, prefix)
		}
	}
	return nil
}

// checkReachable refuses a --to the server has not written yet: the replay
// would otherwise wait for it, following live changes.
func checkReachable(ctx context.Context, src capture.Positioner, to mysqlsource.Position) error {
	cur, err := src.CurrentPosition(ctx)
	if err != nil {
		return err
	}
	p, err := mysqlsource.ParsePosition(cur.Position)
	if err != nil {
		return err
	}
	if to.Compare(p) > 0 {
		return fmt.Errorf("--to %s is past the server's current binlog position %s: replay re-sends history only", to, p)
	}
	return nil
}
