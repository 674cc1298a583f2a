package debezium

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// Encode returns the Kafka message key and value that Debezium's
// JsonConverter would write for ev, a canonical event built by
// transform.Build from a change on table. It builds the table's mapping on
// every call; use an Encoder to reuse it.
func Encode(ev *transform.Event, table *capture.Table, opts Options) (key, value []byte, err error) {
	return NewEncoder(opts).Encode(ev, table)
}

// Encoder encodes events in Debezium's format with fixed Options, caching
// each table's column mapping and schemas. It is not safe for concurrent
// use; a pipeline's handler owns one.
type Encoder struct {
	opts   Options
	tables map[*capture.Table]*tableCodec
}

// maxCachedTables bounds the cache: sources hand out a new *capture.Table
// after every schema change, so old ones would otherwise pile up.
const maxCachedTables = 4096

// NewEncoder returns an Encoder for opts. Options are checked against each
// event's source on Encode.
func NewEncoder(opts Options) *Encoder {
	return &Encoder{opts: opts, tables: map[*capture.Table]*tableCodec{}}
}

// Encode returns the message key and value of ev (see the package doc for
// the shape). The key is nil for a truncate event, which has no key in
// Debezium. Errors name the event id, and the column where there is one,
// never a value.
func (e *Encoder) Encode(ev *transform.Event, table *capture.Table) (key, value []byte, err error) {
	if ev == nil || table == nil {
		return nil, nil, errors.New("debezium: nil event or table")
	}
	tc, err := e.codec(&ev.Source, table)
	if err != nil {
		return nil, nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if ev.Op != capture.OpTruncate {
		if key, err = tc.appendKey(make([]byte, 0, 64), ev); err != nil {
			return nil, nil, fmt.Errorf("encode event %s key: %w", ev.ID, err)
		}
	}
	if value, err = tc.appendValue(make([]byte, 0, 512+len(tc.envelopeSchema)), ev); err != nil {
		return nil, nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return key, value, nil
}

func (e *Encoder) codec(src *transform.Source, table *capture.Table) (*tableCodec, error) {
	if tc, ok := e.tables[table]; ok && tc.connector == src.Connector && tc.name == src.Name {
		return tc, nil
	}
	opts, err := e.opts.resolved(src)
	if err != nil {
		return nil, err
	}
	tc := newTableCodec(table, opts)
	tc.connector, tc.name = src.Connector, src.Name
	if len(e.tables) >= maxCachedTables {
		clear(e.tables)
	}
	e.tables[table] = tc
	return tc, nil
}

// tableCodec is everything about one table that does not change per event.
type tableCodec struct {
	opts    Options
	table   *capture.Table
	columns []column
	// connector and name are the event source the options were resolved
	// for; a codec is reused only for events of the same source.
	connector, name string
	keySchema       []byte // JSON, only with opts.Schemas
	envelopeSchema  []byte
}

func newTableCodec(t *capture.Table, o Options) *tableCodec {
	isKey := make([]bool, len(t.Columns))
	for _, k := range t.Key {
		if k >= 0 && k < len(isKey) {
			isKey[k] = true
		}
	}
	tc := &tableCodec{opts: o, table: t, columns: make([]column, len(t.Columns))}
	row := make([]connectSchema, len(t.Columns))
	for i, c := range t.Columns {
		tc.columns[i] = newColumn(c, !isKey[i], o)
		row[i] = tc.columns[i].schema
	}
	if o.Schemas {
		// Debezium's record name: <topic.prefix>.<database or schema>.<table>.
		name := o.TopicPrefix + "." + t.Database + "." + t.Name
		key := make([]connectSchema, 0, len(t.Key))
		for _, k := range t.Key {
			if k >= 0 && k < len(row) {
				key = append(key, row[k])
			}
		}
		tc.keySchema = marshalSchema(keySchema(name, key))
		tc.envelopeSchema = marshalSchema(envelopeSchema(o, name, row))
	}
	return tc
}

func (tc *tableCodec) appendKey(dst []byte, ev *transform.Event) ([]byte, error) {
	if len(ev.Key) != len(tc.table.Key) {
		return nil, fmt.Errorf("key has %d columns, table %s.%s has %d", len(ev.Key), tc.table.Database, tc.table.Name, len(tc.table.Key))
	}
	row := make(transform.Row, len(ev.Key))
	for j, f := range ev.Key {
		i := tc.table.Key[j]
		if i < 0 || i >= len(tc.columns) || tc.table.Columns[i].Name != f.Name {
			return nil, fmt.Errorf("key column %q is not key column %d of table %s.%s", f.Name, j, tc.table.Database, tc.table.Name)
		}
		v, err := tc.convert(i, f.Value)
		if err != nil {
			return nil, err
		}
		row[j] = transform.Field{Name: f.Name, Value: v}
	}
	if tc.opts.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, tc.keySchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst, err := row.AppendJSON(dst)
	if err != nil {
		return nil, err
	}
	if tc.opts.Schemas {
		dst = append(dst, '}')
	}
	return dst, nil
}

func (tc *tableCodec) appendValue(dst []byte, ev *transform.Event) ([]byte, error) {
	before, err := tc.image(ev.Before, false)
	if err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	after, err := tc.image(ev.After, tc.opts.postgres())
	if err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	source, err := tc.sourceBlock(ev)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if tc.opts.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, tc.envelopeSchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, `{"before":`...)
	if dst, err = before.AppendJSON(dst); err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	dst = append(dst, `,"after":`...)
	if dst, err = after.AppendJSON(dst); err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	dst = append(dst, `,"source":`...)
	if dst, err = source.AppendJSON(dst); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dst = append(dst, `,"transaction":null,"op":"`...)
	dst = append(dst, ev.Op...)
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, ev.TsMs, 10)
	dst = append(dst, `,"ts_us":`...)
	dst = strconv.AppendInt(dst, ev.TsMs*1_000, 10)
	dst = append(dst, `,"ts_ns":`...)
	dst = strconv.AppendInt(dst, ev.TsMs*1_000_000, 10)
	dst = append(dst, '}')
	if tc.opts.Schemas {
		dst = append(dst, '}')
	}
	return dst, nil
}

// image converts a row image to Debezium's: every table column in order,
// with the columns the source did not log (absent from img) written as
// Debezium writes them: null, or for PostgreSQL's unchanged TOASTed values
// in the after image (toast true) the unavailable-value placeholder.
func (tc *tableCodec) image(img transform.Row, toast bool) (transform.Row, error) {
	if img == nil {
		return nil, nil
	}
	out := make(transform.Row, len(tc.columns))
	j := 0
	for i, c := range tc.table.Columns {
		out[i].Name = c.Name
		if j < len(img) && img[j].Name == c.Name {
			v, err := tc.convert(i, img[j].Value)
			if err != nil {
				return nil, err
			}
			out[i].Value = v
			j++
			continue
		}
		if toast {
			out[i].Value = placeholder(tc.columns[i].schema.Type)
		}
	}
	if j != len(img) {
		return nil, fmt.Errorf("column %q is not a column of table %s.%s in table order", img[j].Name, tc.table.Database, tc.table.Name)
	}
	return out, nil
}

// placeholder is Debezium's unavailable.value.placeholder for a column of
// Connect type typ, or nil where Debezium has none.
func placeholder(typ string) any {
	switch typ {
	case typeString:
		return unavailablePlaceholder
	case typeBytes:
		return []byte(unavailablePlaceholder)
	}
	return nil
}

func (tc *tableCodec) convert(i int, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, err := tc.columns[i].convert(v)
	if err != nil {
		return nil, fmt.Errorf("column %q (%s): %w", tc.table.Columns[i].Name, tc.table.Columns[i].Type, err)
	}
	return out, nil
}
