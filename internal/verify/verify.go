// Package verify checks that a table's Kafka topic describes the table as
// it is in the source: it rebuilds the latest row per key from the topic's
// events, reads the table in key order, and compares the two by the SHA-256
// of each row encoded exactly as an event's after image.
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
// the suspects that now agree. Only keys that still differ after the last
// round are reported. A key that keeps changing faster than the daemon
// delivers, or a daemon lagging more than Rechecks × RecheckWait, can
// therefore be reported; run verify again to tell lag from loss. At most
// Options.MaxRecheckKeys suspects per table are re-checked; the rest are
// reported as found (Report says how many).
//
// Verification only reads: the source with SELECT, Kafka without a consumer
// group (nothing is committed). Reports name keys, never row values.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tributary-cdc/tributary/capture"
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
	// Decode turns a schema-registry Avro message (format: avro) into the
	// JSON format's bytes of the same event or key; nil: such messages are
	// errors.
	Decode func(ctx context.Context, msg []byte) ([]byte, error)
}

func (o *Options) defaults() error {
	if o.Kafka == nil && len(o.Brokers) > 0 {
		conn, err := kafkasink.NewConnection(kafkasink.Config{Brokers: o.Brokers})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		o.Kafka = conn
	}
	if o.Source == nil || o.SourceName == "" || o.Kafka == nil {
		return errors.New("verify: Source, SourceName and Kafka are required")
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
	var rep Report
	for _, t := range tables {
		tr, err := verifyTable(ctx, &opts, t[0], t[1])
		if err != nil {
			return rep, fmt.Errorf("verify %s.%s: %w", t[0], t[1], err)
		}
		rep.Tables = append(rep.Tables, tr)
	}
	return rep, nil
}

// verifyTable runs the three steps for one table: topic state, source scan,
// re-checks.
func verifyTable(ctx context.Context, o *Options, db, table string) (TableReport, error) {
	topic := transform.TopicName(o.TopicPrefix, o.SourceName, db, table)
	tr := TableReport{Database: db, Table: table, Topic: topic}
	state := newTopicState(o.Kafka, topic, o.ReadTimeout)
	state.decode = o.Decode
	defer state.close()
	if err := state.catchUp(ctx); err != nil {
		return tr, err
	}
	tr.TopicMissing = !state.exists
	tr.TopicKeys = int64(len(state.keys))

	c := &comparison{o: o, db: db, table: table, state: state, rep: &tr, suspects: map[string]diffKind{}}
	if err := c.scan(ctx); err != nil {
		return tr, err
	}
	if err := c.recheck(ctx); err != nil {
		return tr, err
	}
	c.finish()
	tr.Messages = state.messages
	return tr, nil
}
