package avro

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
)

// DebeziumEncoder encodes events in the debezium flavour: Debezium's Avro
// envelope, as its AvroConverter derives it from the Connect schemas
// transform/debezium writes, so Debezium-Avro consumers read it unchanged.
// It is not safe for concurrent use.
type DebeziumEncoder struct {
	dbz    *debezium.Encoder
	tables map[*capture.Table]*dbzCodec
}

type dbzCodec struct {
	api        avro.API
	key, value *Schema
}

// NewDebeziumEncoder returns a DebeziumEncoder with opts (those of format:
// debezium; Schemas is ignored).
func NewDebeziumEncoder(opts debezium.Options) *DebeziumEncoder {
	return &DebeziumEncoder{dbz: debezium.NewEncoder(opts), tables: map[*capture.Table]*dbzCodec{}}
}

func (e *DebeziumEncoder) codec(src *transform.Source, table *capture.Table) (*dbzCodec, error) {
	if c, ok := e.tables[table]; ok {
		return c, nil
	}
	k, v, err := e.dbz.AvroSchemas(src, table)
	if err != nil {
		return nil, err
	}
	c := &dbzCodec{api: avro.Config{}.Freeze()}
	if c.key, err = newSchema(k); err != nil {
		return nil, fmt.Errorf("table %s.%s key schema: %w", table.Database, table.Name, err)
	}
	if c.value, err = newSchema(v); err != nil {
		return nil, fmt.Errorf("table %s.%s value schema: %w", table.Database, table.Name, err)
	}
	if len(e.tables) >= maxCachedTables {
		clear(e.tables)
	}
	e.tables[table] = c
	return c, nil
}

// Encode returns ev's key and value bodies.
func (e *DebeziumEncoder) Encode(ev *transform.Event, table *capture.Table) (Encoded, error) {
	c, err := e.codec(&ev.Source, table)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	key, value, err := e.dbz.AvroValues(ev, table)
	if err != nil {
		return Encoded{}, err
	}
	out := Encoded{KeySchema: c.key, ValueSchema: c.value}
	if key != nil {
		if out.Key, err = c.api.Marshal(c.key.Parsed, key); err != nil {
			return Encoded{}, fmt.Errorf("encode event %s key: %w", ev.ID, err)
		}
	}
	if out.Value, err = c.api.Marshal(c.value.Parsed, value); err != nil {
		return Encoded{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return out, nil
}
