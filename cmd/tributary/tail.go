package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform"
)

// tailDiscoverEvery is how often tail looks for topics created after it
// started (the daemon creates a table's topic on its first event).
const tailDiscoverEvery = time.Second

// cmdTail prints the messages of the configured sources' topics, one line
// each, reading every partition with its own kafka.Reader (no consumer
// group, nothing committed). It is a tool for looking at events, not a
// consumer to build on.
func cmdTail(args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("tail")
	source := fs.String("source", "", "only this source's topics")
	fromBeginning := fs.Bool("from-beginning", false, "read from each partition's first offset")
	limit := fs.Int("max", 0, "stop after this many messages (0: no limit)")
	timeout := fs.Duration("timeout", 0, "stop after this long (0: until SIGINT)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 0 || *timeout < 0 {
		return fmt.Errorf("%w: tail: --max and --timeout must not be negative", errUsage)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	prefixes, err := tailPrefixes(cfg, *source)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	conn, err := kafkasink.NewConnection(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	t := &tailer{kafka: conn, prefixes: prefixes, fromBeginning: *fromBeginning, stderr: stderr}
	if cfg.SchemaRegistry.Set() {
		if t.registry, err = schemaregistry.New(cfg.SchemaRegistry, "schema_registry"); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
	}
	n, err := t.run(ctx, *limit, stdout)
	switch {
	case err != nil:
		return err
	case *limit > 0 && n < *limit && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("tail: read %d of %d messages within %s", n, *limit, *timeout)
	}
	return nil
}

// tailPrefixes returns the topic name prefix of every configured source, or
// of the one named; names are escaped the way transform.TopicName does.
func tailPrefixes(cfg *config.Config, source string) ([]string, error) {
	var out []string
	for _, s := range cfg.Sources {
		if source == "" || s.Name == source {
			out = append(out, topicPrefix(cfg.Topics.Prefix, s.Name))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("source %q is not in the config", source)
	}
	return out, nil
}

// topicPrefix is "<prefix>.<source>." as it starts the source's topic names.
func topicPrefix(prefix, source string) string {
	name := transform.TopicName(prefix, source, "d", "t")
	return strings.TrimSuffix(name, "d.t")
}

// matchTopics returns the names starting with one of the prefixes, sorted.
// Kafka's internal topics never match: they start with "__".
func matchTopics(names, prefixes []string) []string {
	var out []string
	for _, n := range names {
		for _, p := range prefixes {
			if strings.HasPrefix(n, p) {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// formatMessage is tail's line for m, without the newline:
// `<topic> p<partition>@<offset> key=<key> <value>`.
func formatMessage(m kafka.Message) string {
	value := "<tombstone>"
	if m.Value != nil {
		value = printable(m.Value)
	}
	return fmt.Sprintf("%s p%d@%d key=%s %s", m.Topic, m.Partition, m.Offset, printable(m.Key), value)
}

// printable keeps one message on one line: event JSON is printed as is,
// anything with a line break or invalid UTF-8 is quoted.
func printable(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsAny(string(b), "\n\r") {
		return string(b)
	}
	return strconv.Quote(string(b))
}

type tailer struct {
	kafka         *kafkasink.Connection
	prefixes      []string
	fromBeginning bool
	stderr        io.Writer // listing errors that are retried
	// registry decodes Avro messages (format: avro) into the JSON format's
	// event; nil: they print quoted.
	registry *schemaregistry.Client
}

// decoded is m with an Avro key and value (the Confluent wire format)
// written as the JSON format writes them, and the schema ids noted; a
// message that does not decode is printed as it is, with the reason.
func (t *tailer) decoded(ctx context.Context, m kafka.Message) kafka.Message {
	if t.registry == nil {
		return m
	}
	for _, part := range []*[]byte{&m.Key, &m.Value} {
		if !schemaregistry.IsAvro(*part) {
			continue
		}
		out, err := t.registry.ReadableJSON(ctx, *part)
		if err != nil {
			fmt.Fprintf(t.stderr, "tributary: tail: %s p%d@%d: %v\n", m.Topic, m.Partition, m.Offset, err)
			continue
		}
		*part = out
	}
	return m
}

type topicPartition struct {
	topic     string
	partition int
}

// run prints messages until limit were printed (0: no limit) or ctx ends,
// and returns how many it printed. It lists topics every
// tailDiscoverEvery; partitions found after the first listing are read from
// their first offset, since all their messages are newer than the start.
func (t *tailer) run(ctx context.Context, limit int, w io.Writer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	// A private Transport whose metadata cache (which serves Client.Metadata)
	// is refreshed as often as topics are listed.
	transport := t.kafka.Transport(tailDiscoverEvery)
	defer transport.CloseIdleConnections()
	client := t.kafka.Client(transport, 10*time.Second)

	msgs := make(chan kafka.Message)
	started := map[topicPartition]bool{}
	start := func(tp topicPartition, offset int64) {
		started[tp] = true
		r := t.kafka.Reader(kafka.ReaderConfig{
			Topic: tp.topic, Partition: tp.partition,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond,
		})
		_ = r.SetOffset(offset) // cannot fail: no group, not closed
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return // ctx ended; the reader retries other errors itself
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	discover := func(first bool) error {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		names := make([]string, 0, len(md.Topics))
		parts := map[string][]kafka.Partition{}
		for _, tp := range md.Topics {
			if tp.Error == nil {
				names = append(names, tp.Name)
				parts[tp.Name] = tp.Partitions
			}
		}
		offset := kafka.FirstOffset
		if first && !t.fromBeginning {
			offset = kafka.LastOffset
		}
		for _, name := range matchTopics(names, t.prefixes) {
			for _, p := range parts[name] {
				if tp := (topicPartition{name, p.ID}); !started[tp] {
					start(tp, offset)
				}
			}
		}
		return nil
	}
	if err := discover(true); err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}

	tick := time.NewTicker(tailDiscoverEvery)
	defer tick.Stop()
	n := 0
	for limit == 0 || n < limit {
		select {
		case m := <-msgs:
			if _, err := fmt.Fprintln(w, formatMessage(t.decoded(ctx, m))); err != nil {
				return n, err
			}
			n++
		case <-tick.C:
			// A failed listing is retried on the next tick; the readers go on.
			if err := discover(false); err != nil && ctx.Err() == nil {
				fmt.Fprintf(t.stderr, "tributary: tail: %v\n", err)
			}
		case <-ctx.Done():
			return n, nil
		}
	}
	return n, nil
}
