package encode

import (
	"context"
	"errors"
	"fmt"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/avro"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// Registrar is the schema registry as the encoder uses it
// (*schemaregistry.Client).
type Registrar interface {
	Subject(topic, record string, isKey bool) string
	Register(ctx context.Context, subject, schema string) (int, error)
	OnIncompatible() schemaregistry.OnIncompatible
}

// avroState is the encoder's Avro side: the schema encoder, the ids of the
// schemas it registered (per schema version and topic, so registering is a
// map lookup per event), rejected schemas, and the last DDL per database,
// which a rejection names.
type avroState struct {
	enc      bodyEncoder
	native   *avro.Encoder // the native flavour, for mapped tables; nil with Debezium's envelope
	debezium bool          // Debezium's envelope: truncates are skipped, as there
	reg      Registrar
	ids      map[schemaTopic]int
	rejected map[*avro.Schema]*schemaregistry.IncompatibleError
	lastDDL  map[string]string
}

type schemaTopic struct {
	schema *avro.Schema
	topic  string
}

// bodyEncoder is one Avro flavour.
type bodyEncoder interface {
	Encode(ev *transform.Event, table *capture.Table) (avro.Encoded, error)
}

func newAvroState(prefix string, reg Registrar, dbz *debezium.Options) *avroState {
	native := avro.NewEncoder(prefix)
	var enc bodyEncoder = native
	if dbz != nil {
		enc, native = avro.NewDebeziumEncoder(*dbz), nil
	}
	return &avroState{enc: enc, native: native, debezium: dbz != nil, reg: reg, ids: map[schemaTopic]int{},
		rejected: map[*avro.Schema]*schemaregistry.IncompatibleError{}, lastDDL: map[string]string{}}
}

// encodeAvro passes ev's Avro message to out: key and value in the
// Confluent wire format, their schemas registered on first use.
func (e *Encoder) encodeAvro(ctx context.Context, ev *transform.Event, c *capture.Change, out Output) error {
	a := e.avro
	if a.debezium && ev.Op == capture.OpTruncate {
		return nil // Debezium's connectors skip truncates by default
	}
	enc, err := a.enc.Encode(ev, c.Table)
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode event %s as Avro: %w", ev.ID, err)}
	}
	return e.writeAvro(ctx, ev, c, e.Topic(ev.Source.Database, ev.Source.Table), enc, out)
}

// encodeMappedAvro passes the Avro message of o, a mapped event of c, to
// out: written with the schemas of the mapping's output of the table,
// registered for o's topic.
func (e *Encoder) encodeMappedAvro(ctx context.Context, o *mapping.Output, c *capture.Change, topic string, out Output) error {
	a := e.avro
	if a.native == nil {
		// Refused by the config's validation too: mapped events are native.
		return &capture.PermanentError{Err: fmt.Errorf("map event %s: avro.envelope debezium cannot carry mapped tables (mapped events are native events)", o.Event.ID)}
	}
	enc, err := a.native.EncodeMapped(e.cfg.Mapper, o, c.Table)
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode mapped event %s as Avro: %w", o.Event.ID, err)}
	}
	return e.writeAvro(ctx, &o.Event, c, topic, enc, out)
}

// writeAvro registers enc's schemas for topic (on first use) and passes
// ev's message to out, or, when the registry rejects the schemas, a dead
// letter or a permanent error. ev is the event as written: a mapped one
// for a mapped table, so a dead letter holds masked values only.
func (e *Encoder) writeAvro(ctx context.Context, ev *transform.Event, c *capture.Change, topic string, enc avro.Encoded, out Output) error {
	a := e.avro
	valueID, err := a.id(ctx, topic, enc.ValueSchema, false)
	var keyID int
	if err == nil && enc.Key != nil {
		keyID, err = a.id(ctx, topic, enc.KeySchema, true)
	}
	var incompatible *schemaregistry.IncompatibleError
	switch {
	case errors.As(err, &incompatible):
		table := ev.Source.Database + "." + ev.Source.Table
		ddl := a.lastDDL[ev.Source.Database]
		if ddl == "" {
			ddl = "(no schema change seen since the start; the registry holds an incompatible earlier schema)"
		} else {
			ddl = fmt.Sprintf("after %q", truncateDDL(ddl))
		}
		if a.reg.OnIncompatible() == schemaregistry.DeadLetter && e.cfg.DeadLetterTopic != "" {
			return out.Emit(e.schemaDeadLetter(ev, table, incompatible))
		}
		return &capture.PermanentError{Err: fmt.Errorf("table %s %s: %w (set schema_registry.on_incompatible: dead_letter to route its events to kafka.dead_letter_topic instead)", table, ddl, incompatible)}
	case err != nil:
		return err // permanent (credentials, URL) or retryable (unreachable)
	}
	var key []byte
	if enc.Key != nil {
		key = schemaregistry.Frame(keyID, enc.Key)
	}
	return e.event(ev, c, topic, key, schemaregistry.Frame(valueID, enc.Value), out)
}

// id is the registered id of s for topic, registering it on first use. A
// rejected schema stays rejected (no registry call per event) until a
// schema change makes a new one.
func (a *avroState) id(ctx context.Context, topic string, s *avro.Schema, isKey bool) (int, error) {
	k := schemaTopic{s, topic}
	if id, ok := a.ids[k]; ok {
		return id, nil
	}
	if rej, ok := a.rejected[s]; ok {
		return 0, rej
	}
	id, err := a.reg.Register(ctx, a.reg.Subject(topic, s.FullName, isKey), s.Text)
	var incompatible *schemaregistry.IncompatibleError
	if errors.As(err, &incompatible) {
		if len(a.rejected) > 1024 {
			clear(a.rejected)
		}
		a.rejected[s] = incompatible
	}
	if err != nil {
		return 0, err
	}
	if len(a.ids) > 16384 {
		clear(a.ids)
	}
	a.ids[k] = id
	return id, nil
}

// schemaDeadLetter is the dead-letter record of an event whose table's
// schema the registry rejected: the canonical event as JSON.
func (e *Encoder) schemaDeadLetter(ev *transform.Event, table string, rej *schemaregistry.IncompatibleError) Out {
	key := transform.EncodeKey(ev)
	body, err := ev.AppendJSON(nil)
	if err != nil {
		body = nil
	}
	value := transform.DeadLetter{Kind: transform.DeadLetterSchemaRegistry, Reason: rej.Error(), Table: table, ID: ev.ID,
		Key: key, Event: body}.Encode()
	return Out{Kind: KindDeadLetter, Event: ev, DeadLetter: &mapping.RowError{Table: table, Rule: "schema_registry", Reason: rej.Error()},
		Message: sink.Message{Topic: e.cfg.DeadLetterTopic, Key: key, Value: value, Describe: table + " dead letter (schema registry)"}}
}

func truncateDDL(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
