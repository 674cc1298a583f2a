// Package encode turns captured changes into the Kafka messages Tributary
// writes for them: canonical events (transform.Build), the table's mapping
// (with its dead letters), native or Debezium JSON, keys, tombstones, and
// the transaction metadata and schema-change records. The pipeline and
// replay share it, so a replay writes byte for byte what the live stream
// wrote, masking included.
package encode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Config is what a source's output depends on.
type Config struct {
	Source      string
	Connector   string // transform.ConnectorMySQL, …
	TopicPrefix string
	Tombstones  bool
	Mapper      *mapping.Mapper // nil: events pass unmapped
	// DeadLetterTopic receives rows a mapping cannot transform; "" makes
	// them a permanent error.
	DeadLetterTopic string
	Debezium        *debezium.Options // nil: native events
	// Registry, when set, writes events as Avro in the Confluent wire
	// format (format: avro), registering each table's key and value
	// schemas with it; a mapped table's are those of the mapping's output,
	// registered for its output topic.
	Registry Registrar
	// AvroDebezium, with Registry, writes Debezium's Avro envelope instead
	// of the canonical event's fields.
	AvroDebezium *debezium.Options
	// TransactionTopic, when set, receives a BEGIN record before the first
	// event message of each source transaction and an END record with
	// per-table event counts at its commit (docs/events.md).
	TransactionTopic string
	// SchemaChangeTopic, when set, receives a record per schema change.
	SchemaChangeTopic string
}

// Kind says what a message is.
type Kind uint8

const (
	KindEvent       Kind = iota
	KindTombstone        // after a delete, with topics.tombstones
	KindDeadLetter       // a row the mapping refused
	KindTransaction      // a BEGIN or END record
	KindSchema           // a schema-change record
)

// Out is one message the encoder produces.
type Out struct {
	sink.Message
	Kind Kind
	// Event is the (mapped) event an event message or tombstone carries;
	// for a dead letter, the event as built that the mapping refused; nil
	// for records.
	Event *transform.Event
	// DeadLetter is set on a dead-letter record: the mapping's refusal.
	DeadLetter *mapping.RowError
}

// Output takes an encoder's messages, in order. An error from Emit stops
// the encoding and is returned as it is.
type Output interface {
	Emit(Out) error
}

// Encoder encodes the changes of one source. It is not safe for concurrent
// use: each pipeline attempt or replay has its own, and calls it from the
// source's goroutine in source order, which the transaction records rely
// on.
type Encoder struct {
	cfg    Config
	dbz    *debezium.Encoder
	outs   []mapping.Output
	topics map[capture.TableID]string
	tx     txMeta
	avro   *avroState
}

// New returns an Encoder for cfg.
func New(cfg Config) *Encoder {
	e := &Encoder{cfg: cfg, topics: map[capture.TableID]string{}}
	if cfg.Debezium != nil {
		e.dbz = debezium.NewEncoder(*cfg.Debezium)
	}
	if cfg.Registry != nil {
		e.avro = newAvroState(cfg.TopicPrefix, cfg.Registry, cfg.AvroDebezium)
	}
	return e
}

// Change builds c's events, built at now, and passes their messages to out
// in order: with a transaction topic, BEGIN before the transaction's first
// event message. It returns how many events went out whole before any
// error. Errors are permanent (*capture.PermanentError), out's, or (with
// a schema registry, which ctx bounds) the registry's retryable ones.
func (e *Encoder) Change(ctx context.Context, c *capture.Change, now time.Time, out Output) (int, error) {
	events, err := transform.Build(e.cfg.Source, e.cfg.Connector, c, now)
	if err != nil {
		return 0, &capture.PermanentError{Err: fmt.Errorf("transform change at %s: %w", c.EventPosition, err)}
	}
	for i := range events {
		if err := e.encode(ctx, &events[i], c, out); err != nil {
			return i, err
		}
	}
	return len(events), nil
}

// encode passes the messages for ev, an event of c, to out.
func (e *Encoder) encode(ctx context.Context, ev *transform.Event, c *capture.Change, out Output) error {
	if e.cfg.Mapper != nil {
		outs, mapped, err := e.cfg.Mapper.Apply(e.outs[:0], e.cfg.Source, ev)
		e.outs = outs
		var rowErr *mapping.RowError
		switch {
		case errors.As(err, &rowErr) && e.cfg.DeadLetterTopic != "":
			// Never a silent drop: the row goes to the dead-letter topic,
			// masked like normal output.
			return out.Emit(e.deadLetter(ev, rowErr))
		case err != nil:
			return &capture.PermanentError{Err: fmt.Errorf("map event %s: %w (set kafka.dead_letter_topic to send such rows there)", ev.ID, err)}
		case mapped:
			for j := range outs {
				o := &outs[j]
				topic := o.Topic
				if topic == "" {
					topic = e.Topic(ev.Source.Database, ev.Source.Table)
				}
				if e.avro != nil {
					if err := e.encodeMappedAvro(ctx, o, c, topic, out); err != nil {
						return err
					}
					continue
				}
				value, err := o.AppendJSON(nil)
				if err != nil {
					return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
				}
				if err := e.event(&o.Event, c, topic, o.Key, value, out); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if e.avro != nil {
		return e.encodeAvro(ctx, ev, c, out)
	}
	if e.dbz != nil {
		if ev.Op == capture.OpTruncate {
			return nil // Debezium's connectors skip truncates by default
		}
		key, value, err := e.dbz.Encode(ev, c.Table)
		if err != nil {
			return &capture.PermanentError{Err: fmt.Errorf("encode event %s as Debezium JSON: %w", ev.ID, err)}
		}
		return e.event(ev, c, e.Topic(ev.Source.Database, ev.Source.Table), key, value, out)
	}
	value, err := ev.AppendJSON(nil) // AppendJSON sizes the buffer
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
	}
	return e.event(ev, c, e.Topic(ev.Source.Database, ev.Source.Table), transform.EncodeKey(ev), value, out)
}

// event passes one event message of c, after its transaction's BEGIN
// record when it is the first, and a tombstone after a delete.
func (e *Encoder) event(ev *transform.Event, c *capture.Change, topic string, key, value []byte, out Output) error {
	if err := e.txEvent(c, out); err != nil {
		return err
	}
	describe := ev.Source.Database + "." + ev.Source.Table + " key " + string(key)
	if err := out.Emit(Out{Kind: KindEvent, Event: ev, Message: sink.Message{Topic: topic, Key: key, Value: value, Describe: describe}}); err != nil {
		return err
	}
	if ev.Op == capture.OpDelete && e.cfg.Tombstones {
		return out.Emit(Out{Kind: KindTombstone, Event: ev, Message: sink.Message{Topic: topic, Key: key, Describe: describe + " (tombstone)"}})
	}
	return nil
}

// deadLetter is the dead-letter record of ev, which the mapping refused
// with rowErr (transform.DeadLetter, kind mapping).
func (e *Encoder) deadLetter(ev *transform.Event, rowErr *mapping.RowError) Out {
	key, value := mapping.DeadLetterRecord(ev, rowErr)
	return Out{Kind: KindDeadLetter, Event: ev, DeadLetter: rowErr, Message: sink.Message{
		Topic: e.cfg.DeadLetterTopic, Key: key, Value: value,
		Describe: rowErr.Table + " dead letter (" + rowErr.Rule + ")",
	}}
}

// Topic is the event topic of a captured table.
func (e *Encoder) Topic(database, table string) string {
	k := capture.TableID{Schema: database, Name: table}
	t, ok := e.topics[k]
	if !ok {
		t = transform.TopicName(e.cfg.TopicPrefix, e.cfg.Source, database, table)
		e.topics[k] = t
	}
	return t
}
