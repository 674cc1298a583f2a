// Package encode turns canonical events into the Kafka messages Tributary
// writes for them: the table's mapping (with its dead letters), native or
// Debezium JSON, keys, tombstones. The pipeline and replay share it, so a
// replay writes byte for byte what the live stream wrote, masking included.
package encode

import (
	"errors"
	"fmt"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Config is what a source's output depends on.
type Config struct {
	Source      string
	TopicPrefix string
	Tombstones  bool
	Mapper      *mapping.Mapper // nil: events pass unmapped
	// DeadLetterTopic receives rows a mapping cannot transform; "" makes
	// them a permanent error.
	DeadLetterTopic string
	Debezium        *debezium.Options // nil: native events
}

// Out is one message for an event.
type Out struct {
	sink.Message
	// Event is the (mapped) event the message carries; nil for a dead
	// letter.
	Event *transform.Event
	// DeadLetter is set on a dead-letter record: the mapping's refusal.
	DeadLetter *mapping.RowError
	Tombstone  bool
}

// Encoder encodes the events of one source. It is not safe for concurrent
// use: each pipeline attempt or replay has its own.
type Encoder struct {
	cfg    Config
	dbz    *debezium.Encoder
	outs   []mapping.Output
	topics map[capture.TableID]string
}

// New returns an Encoder for cfg.
func New(cfg Config) *Encoder {
	e := &Encoder{cfg: cfg, topics: map[capture.TableID]string{}}
	if cfg.Debezium != nil {
		e.dbz = debezium.NewEncoder(*cfg.Debezium)
	}
	return e
}

// Encode passes the messages for ev, an event of a change of table t, to
// out in order. Errors are permanent (*capture.PermanentError) or out's.
func (e *Encoder) Encode(ev *transform.Event, t *capture.Table, out func(Out) error) error {
	if e.cfg.Mapper != nil {
		outs, mapped, err := e.cfg.Mapper.Apply(e.outs[:0], e.cfg.Source, ev)
		e.outs = outs
		var rowErr *mapping.RowError
		switch {
		case errors.As(err, &rowErr) && e.cfg.DeadLetterTopic != "":
			// Never a silent drop: the row goes to the dead-letter topic,
			// masked like normal output.
			return out(Out{DeadLetter: rowErr, Message: sink.Message{
				Topic: e.cfg.DeadLetterTopic, Key: mapping.DeadLetterKey(ev, rowErr), Value: mapping.DeadLetter(ev, rowErr),
				Describe: rowErr.Table + " dead letter (" + rowErr.Rule + ")",
			}})
		case err != nil:
			return &capture.PermanentError{Err: fmt.Errorf("map event %s: %w (set kafka.dead_letter_topic to send such rows there)", ev.ID, err)}
		case mapped:
			for j := range outs {
				o := &outs[j]
				value, err := o.AppendJSON(nil)
				if err != nil {
					return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
				}
				topic := o.Topic
				if topic == "" {
					topic = e.Topic(ev.Source.Database, ev.Source.Table)
				}
				if err := e.event(&o.Event, topic, o.Key, value, out); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if e.dbz != nil {
		if ev.Op == capture.OpTruncate {
			return nil // Debezium's connectors skip truncates by default
		}
		key, value, err := e.dbz.Encode(ev, t)
		if err != nil {
			return &capture.PermanentError{Err: fmt.Errorf("encode event %s as Debezium JSON: %w", ev.ID, err)}
		}
		return e.event(ev, e.Topic(ev.Source.Database, ev.Source.Table), key, value, out)
	}
	value, err := ev.AppendJSON(nil) // AppendJSON sizes the buffer
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode event %s (%s.%s): %w", ev.ID, ev.Source.Database, ev.Source.Table, err)}
	}
	return e.event(ev, e.Topic(ev.Source.Database, ev.Source.Table), transform.EncodeKey(ev), value, out)
}

// event passes one event message, and a tombstone after a delete.
func (e *Encoder) event(ev *transform.Event, topic string, key, value []byte, out func(Out) error) error {
	describe := ev.Source.Database + "." + ev.Source.Table + " key " + string(key)
	if err := out(Out{Event: ev, Message: sink.Message{Topic: topic, Key: key, Value: value, Describe: describe}}); err != nil {
		return err
	}
	if ev.Op == capture.OpDelete && e.cfg.Tombstones {
		return out(Out{Event: ev, Tombstone: true, Message: sink.Message{Topic: topic, Key: key, Describe: describe + " (tombstone)"}})
	}
	return nil
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
