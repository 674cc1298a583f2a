package encode

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// schemaLog is a Registrar that records what is registered under which
// subject, and rejects every schema when reject is set.
type schemaLog struct {
	subjects []string
	texts    []string
	reject   bool
}

func (l *schemaLog) Subject(topic, record string, isKey bool) string {
	if isKey {
		return topic + "-key"
	}
	return topic + "-value"
}

func (l *schemaLog) Register(_ context.Context, subject, text string) (int, error) {
	if l.reject {
		return 0, &schemaregistry.IncompatibleError{Subject: subject, Reason: "test"}
	}
	l.subjects = append(l.subjects, subject)
	l.texts = append(l.texts, text)
	return len(l.texts), nil
}

func (l *schemaLog) OnIncompatible() schemaregistry.OnIncompatible {
	if l.reject {
		return schemaregistry.DeadLetter
	}
	return schemaregistry.Halt
}

// collect is an Output keeping every message.
type collect struct{ outs []Out }

func (c *collect) Emit(o Out) error { c.outs = append(c.outs, o); return nil }

func orderMapper(t *testing.T) *mapping.Mapper {
	t.Helper()
	m, err := mapping.Compile([]mapping.Config{{Table: "shop.orders", Entity: "order",
		Rename: map[string]string{"status": "state"}, Mask: map[string]mapping.Mask{"note": {Kind: mapping.MaskRedact}},
		Drop: []string{"attrs"}, Key: mapping.Key{Fields: []string{"customer_id"}}}},
		os.LookupEnv, mapping.WithTopicPrefix("cdc"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A mapped table's events are Avro under format avro: registered per
// output topic with the mapping's output schema, a key.fields change split
// as in JSON, and a new schema registered after the table's changes.
func TestMappedAvroRegistersOutputSchemas(t *testing.T) {
	t.Parallel()
	reg := &schemaLog{}
	e := New(Config{Source: "main", Connector: transform.ConnectorMySQL, TopicPrefix: "cdc", Tombstones: true,
		Mapper: orderMapper(t), Registry: reg})
	c := benchChange(capture.OpUpdate)
	c.Before[1] = int64(7) // the key field changes: a delete and a create
	out := &collect{}
	if n, err := e.Change(context.Background(), c, time.Unix(1706745600, 0), out); err != nil || n != 1 {
		t.Fatalf("Change = %d, %v; want 1 event (mapped to two)", n, err)
	}
	var kinds []string
	for _, o := range out.outs {
		kinds = append(kinds, kindNames[o.Kind]+" "+o.Topic)
		if len(o.Key) < 5 || o.Key[0] != 0 || o.Value != nil && o.Value[0] != 0 {
			t.Errorf("%s: not in the Confluent wire format", o.Describe)
		}
	}
	want := "event cdc.main.shop.order,tombstone cdc.main.shop.order,event cdc.main.shop.order"
	if strings.Join(kinds, ",") != want {
		t.Errorf("messages %v, want %s", kinds, want)
	}
	if got := strings.Join(reg.subjects, ","); got != "cdc.main.shop.order-value,cdc.main.shop.order-key" {
		t.Fatalf("registered %s", got)
	}
	value, key := reg.texts[0], reg.texts[1]
	for _, s := range []string{`"name":"Value","namespace":"cdc.main.shop.order"`, `"name":"state"`, `"name":"entity"`, `"tributary.mapping":"mask redact"`} {
		if !strings.Contains(value, s) {
			t.Errorf("value schema lacks %s: %s", s, value)
		}
	}
	for _, s := range []string{`"name":"status"`, `"name":"attrs"`} {
		if strings.Contains(value, s) {
			t.Errorf("value schema has %s: %s", s, value)
		}
	}
	if !strings.Contains(key, `"fields":[{"default":null,"name":"customer_id"`) || strings.Contains(key, `"name":"id"`) {
		t.Errorf("key schema is not the key.fields': %s", key)
	}

	// Same table: ids from the cache. A new version of it: new schemas.
	del := benchChange(capture.OpDelete)
	del.Table = c.Table
	if _, err := e.Change(context.Background(), del, time.Now(), out); err != nil || len(reg.texts) != 2 {
		t.Fatalf("%v; %d schemas registered for one table version, want 2", err, len(reg.texts))
	}
	c = benchChange(capture.OpDelete)
	c.Table.Columns = append(c.Table.Columns, capture.Column{Name: "extra", Type: "int"})
	c.Before = append(c.Before, int64(1))
	if _, err := e.Change(context.Background(), c, time.Now(), out); err != nil || len(reg.texts) != 4 || !strings.Contains(reg.texts[2], `"name":"extra"`) {
		t.Fatalf("%v; after the table changed %d schemas registered, want value and key again, the value with the new column", err, len(reg.texts))
	}
}

// A mapped table's event whose schema the registry rejects goes to the
// dead-letter topic as the mapped event: masked, never the raw row.
func TestMappedAvroRejectedIsMaskedDeadLetter(t *testing.T) {
	t.Parallel()
	e := New(Config{Source: "main", Connector: transform.ConnectorMySQL, TopicPrefix: "cdc", Mapper: orderMapper(t),
		Registry: &schemaLog{reject: true}, DeadLetterTopic: "dlq"})
	out := &collect{}
	if _, err := e.Change(context.Background(), benchChange(capture.OpUpdate), time.Now(), out); err != nil {
		t.Fatal(err)
	}
	if len(out.outs) != 1 || out.outs[0].Kind != KindDeadLetter {
		t.Fatalf("%d messages, want one dead letter", len(out.outs))
	}
	v := string(out.outs[0].Value)
	if strings.Contains(v, "Leave at door") || !strings.Contains(v, `"note":"***"`) || !strings.Contains(v, `"state":"shipped"`) {
		t.Errorf("dead letter is not the mapped event: %s", v)
	}
}

// Debezium's Avro envelope has no place for a mapped event (mapped events
// are native): refused, never written unmapped.
func TestMappedAvroDebeziumEnvelopeRefused(t *testing.T) {
	t.Parallel()
	e := New(Config{Source: "main", Connector: transform.ConnectorMySQL, TopicPrefix: "cdc", Mapper: orderMapper(t),
		Registry: &schemaLog{}, AvroDebezium: &debezium.Options{}})
	_, err := e.Change(context.Background(), benchChange(capture.OpUpdate), time.Now(), &collect{})
	var pe *capture.PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "avro.envelope debezium") {
		t.Errorf("err %v, want a permanent error naming avro.envelope", err)
	}
}
