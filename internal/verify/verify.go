// Package verify checks that a table's Kafka topic describes the table as
// it is in the source: it keeps the latest row image per key of the topic's
// events (a digest, Digests), reads the table in key order, encodes each
// row as the daemon would deliver it (internal/encode: build, the table's
// mapping), and compares the two by the digest of the after image.
//
// `tributary verify` rebuilds the state from the topics' first offsets in
// memory; the daemon's accuracy monitor (internal/accuracy) keeps it on
// disk and follows the topics, and runs the same comparison
// (CheckTable) against it.
//
// # Writes during verification
//
// Verification runs against a live source with the daemon still streaming.
// The topic is read first, up to each partition's high watermark at that
// moment; then the table is read in chunks. A row written in between looks
// different in the two. So a key that differs is not reported at once: it
// is a suspect. After the scan, up to Options.Rechecks times, verify waits
// Options.RecheckWait, reads the messages the topic received since (up to
// the new high watermarks), re-reads each suspect row by its key, and drops
// the suspects that now agree. A key that still differs is reported only
// once it is settled: its source row and its topic state were both the
// same at two consecutive looks (RecheckWait apart), so its last change
// had that long to reach the topic (inside the daemon, Options.Delivered
// makes that exact: each round waits until everything committed before
// its looks was delivered). A key whose row or state changed at every
// look is written faster than the re-checks can judge; it is counted as
// unsettled, not as a difference. A daemon lagging more than RecheckWait
// can therefore be reported by the command; run verify again to
// tell lag from loss. At most Options.MaxRecheckKeys suspects per table
// are re-checked; the rest are reported as found (Report says how many).
//
// Verification only reads: the source with SELECT, Kafka without a consumer
// group (nothing is committed). Reports name keys, never row values.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/encode"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform"
)

// Source reads the tables of one source database. capture/mysql.Reader
// implements it; a PostgreSQL reader only has to do the same.
type Source interface {
	// Tables lists the captured tables as {database (or schema), table}.
	Tables(ctx context.Context) ([][2]string, error)
	// ApproxRows estimates a table's row count, for progress output.
	ApproxRows(ctx context.Context, db, table string) (int64, error)
	// ReadChunk returns up to limit rows in key order after the row with
	// key values after (nil: from the start), as canonical values equal to
	// those the source's change stream produces (see capture.Change).
	ReadChunk(ctx context.Context, db, table string, after []any, limit int) (*capture.Table, [][]any, error)
	// ReadKey returns the row whose key is keyJSON (transform.EncodeKey's
	// form), or a nil row when there is none.
	ReadKey(ctx context.Context, db, table string, keyJSON []byte) (*capture.Table, []any, error)
}

// Options configures Run. Source, SourceName and Kafka (or Brokers) are
// required.
type Options struct {
	Source     Source
	SourceName string // the configured source name, part of topic names
	// Kafka is how the topics are read, with the daemon's TLS and SASL
	// settings; when nil, Brokers are read in plaintext.
	Kafka   *kafkasink.Connection
	Brokers []string
	// TopicPrefix is topics.prefix of the configuration.
	TopicPrefix string
	// Tables to verify as {database, table}; empty: Source.Tables().
	Tables [][2]string
	// ChunkSize is how many rows one source query reads (default 1000).
	ChunkSize int
	// Rechecks is how often differing keys are re-checked before they are
	// reported (default 3; negative: never).
	Rechecks int
	// RecheckWait is the pause before each re-check (default 2s).
	RecheckWait time.Duration
	// MaxRecheckKeys bounds the suspects re-checked per table (default 10000).
	MaxRecheckKeys int
	// Examples is how many keys each kind of difference lists (default 20).
	Examples int
	// Progress receives a line per chunk read; nil for none.
	Progress io.Writer
	// ReadTimeout fails reading a topic partition that delivers nothing for
	// this long while below its high watermark (default 30s).
	ReadTimeout time.Duration

	// Encode is how the daemon encodes the source's events (its mapper
	// above all); nil: unmapped native events of SourceName. The
	// comparison always uses the native image: a Debezium-format source's
	// topics cannot be verified.
	Encode *encode.Config
	// State is the topic state to compare with; nil: Run reads the topics
	// from their first offsets into memory.
	State *Follower
	// RowsPerSecond limits the source rows read (0: no limit).
	RowsPerSecond float64
	// CatchUpEvery, when positive, catches the state up with the topics
	// between chunks once this long has passed, so that a long scan
	// compares rows with a fresh state.
	CatchUpEvery time.Duration
	// Delivered, when set, is the source commit time up to which the
	// daemon has delivered every change (its checkpoint's commit time,
	// which heartbeats keep moving on an idle source). Re-checks then wait
	// for the daemon to deliver what the previous looks saw before
	// judging, so that a lagging daemon is not mistaken for a loss; at
	// most DeliveryWait (default 30s) per round.
	Delivered    func() time.Time
	DeliveryWait time.Duration
	// Decode turns a schema-registry Avro message (format: avro) into the
	// JSON format's bytes of the same event or key; nil: such messages are
	// errors. Used when State is nil.
	Decode func(ctx context.Context, msg []byte) ([]byte, error)
}

// encodeConfig is the encoder configuration rows are compared in.
func (o *Options) encodeConfig() encode.Config {
	if o.Encode != nil {
		return *o.Encode
	}
	return encode.Config{Source: o.SourceName, Connector: transform.ConnectorMySQL, TopicPrefix: o.TopicPrefix}
}

func (o *Options) defaults() error {
	if o.Kafka == nil && len(o.Brokers) > 0 {
		conn, err := kafkasink.NewConnection(kafkasink.Config{Brokers: o.Brokers})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		o.Kafka = conn
	}
	if o.Source == nil || o.SourceName == "" || (o.Kafka == nil && o.State == nil) {
		return errors.New("verify: Source, SourceName and Kafka (or State) are required")
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 1000
	}
	if o.Rechecks == 0 {
		o.Rechecks = 3
	}
	if o.RecheckWait <= 0 {
		o.RecheckWait = 2 * time.Second
	}
	if o.MaxRecheckKeys <= 0 {
		o.MaxRecheckKeys = 10000
	}
	if o.Examples <= 0 {
		o.Examples = 20
	}
	if o.DeliveryWait <= 0 {
		o.DeliveryWait = 30 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Run verifies every table of opts one after the other and returns what it
// found. An error means verification could not finish (a server
// unreachable, a table unreadable); differences are not errors, see
// Report.Differences.
func Run(ctx context.Context, opts Options) (Report, error) {
	if err := opts.defaults(); err != nil {
		return Report{}, err
	}
	tables := opts.Tables
	if len(tables) == 0 {
		var err error
		if tables, err = opts.Source.Tables(ctx); err != nil {
			return Report{}, fmt.Errorf("verify: %w", err)
		}
	}
	state := opts.State
	if state == nil {
		state = NewFollower(opts.Kafka, opts.SourceName, NewMemoryDigests(), opts.ReadTimeout)
		if opts.Decode != nil {
			state.DecodeAvro(opts.Decode)
		}
		defer state.Close()
	}
	var rep Report
	for _, t := range tables {
		tr, err := checkTable(ctx, &opts, state, t[0], t[1])
		if err != nil {
			return rep, fmt.Errorf("verify %s.%s: %w", t[0], t[1], err)
		}
		rep.Tables = append(rep.Tables, tr)
	}
	return rep, nil
}

// CheckTable compares one table with state: the topic state caught up,
// the source scanned in key order (at opts.RowsPerSecond), the differing
// keys re-checked. opts.Tables and opts.Kafka are not used.
func CheckTable(ctx context.Context, opts Options, state *Follower, db, table string) (TableReport, error) {
	opts.State = state
	if err := opts.defaults(); err != nil {
		return TableReport{}, err
	}
	return checkTable(ctx, &opts, state, db, table)
}

// checkTable runs the three steps for one table: topic state, source
// scan, re-checks.
func checkTable(ctx context.Context, o *Options, state *Follower, db, table string) (TableReport, error) {
	tr := TableReport{Database: db, Table: table}
	c := newComparison(o, state, db, table, &tr)
	tr.Topic = c.im.topic(db, table)
	if err := c.scan(ctx); err != nil {
		return tr, err
	}
	if err := c.recheck(ctx); err != nil {
		return tr, err
	}
	c.finish()
	for topic := range c.topics {
		tr.Topics = append(tr.Topics, topic)
	}
	sort.Strings(tr.Topics)
	return tr, nil
}
