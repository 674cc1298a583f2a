package mapping

import (
	"fmt"

	"github.com/tributary-cdc/tributary/capture"
)

// Column is one field of a mapped table's output, as OutputSchema derives
// it from the table's columns and the mapping's rules: what a schema-based
// format (Avro) needs to type the field.
type Column struct {
	// Name is the output field name (renamed, or the source column's).
	Name string
	// Source and Type are the source column's name and type
	// (capture.Column); both "" for a static field.
	Source, Type string
	// Cast is the column's cast (To "" when none); it applies before Mask.
	Cast Cast
	// Mask is the column's mask kind, "" when none. Every mask produces a
	// string (or null, for hash and keep_last of NULL).
	Mask MaskKind
	// Static marks a field with one value for every row: an add rule, or
	// the key's "source" field (key.include_source). Value holds it: nil,
	// bool, string, int64, uint64 or float64.
	Static bool
	Value  any
}

// Shape is the output of a mapped table: the fields of its before and
// after images and of its key, in the order Apply writes them, and where
// its events go.
type Shape struct {
	// Entity is the mapping's entity name ("" when it sets none); Topic the
	// mapped topic ("" means the table's usual topic), as in Output.
	Entity, Topic string
	// Row holds the image fields: the table's columns in table order,
	// dropped ones left out, then the added fields in name order.
	Row []Column
	// Key holds the key fields: key.include_source's "source" first, then
	// the table's key columns (cast, masked, renamed; never dropped) or
	// the key.fields, in their order.
	Key []Column
	// KeyFromFields says the key is key.fields: its values come from the
	// row and may be null.
	KeyFromFields bool
}

// OutputSchema returns the output shape of table for events of source.
// mapped is false when no mapping matches the table: its events pass
// unchanged. An error means no row of the table can be mapped (an output
// name used twice, a key field the rows lack); Apply refuses such rows
// too. The shape of a table does not change until its schema does.
func (m *Mapper) OutputSchema(source string, table *capture.Table) (shape Shape, mapped bool, err error) {
	if m == nil || len(m.rules) == 0 {
		return Shape{}, false, nil
	}
	p, err := m.plan(tableID{source, table.Database, table.Name})
	if err != nil || p == nil {
		return Shape{}, p != nil, err
	}
	r := p.r
	shape = Shape{Entity: r.entity, Topic: p.topic, KeyFromFields: len(r.keyFields) > 0}
	for _, c := range table.Columns {
		rc := r.cols[c.Name]
		if rc != nil && rc.drop {
			continue
		}
		shape.Row = append(shape.Row, outColumn(c, rc))
	}
	for _, f := range r.add {
		shape.Row = append(shape.Row, Column{Name: f.Name, Static: true, Value: f.Value})
	}
	seen := make(map[string]bool, len(shape.Row))
	for _, c := range shape.Row {
		if seen[c.Name] {
			return Shape{}, true, fmt.Errorf("%s: table %s: %s: %q is already the name of another column of the table",
				r.describe(), p.table, producer(r, c.Name), c.Name)
		}
		seen[c.Name] = true
	}
	if r.includeSource {
		shape.Key = append(shape.Key, Column{Name: "source", Static: true, Value: source})
	}
	if len(r.keyFields) > 0 {
		for _, name := range r.keyFields {
			i := indexOf(shape.Row, name)
			if i < 0 {
				return Shape{}, true, fmt.Errorf("%s: table %s: key.fields.%s: the rows have no such field (dropped or misnamed)", r.describe(), p.table, name)
			}
			shape.Key = append(shape.Key, shape.Row[i])
		}
		return shape, true, nil
	}
	for _, k := range table.Key {
		if k < 0 || k >= len(table.Columns) {
			return Shape{}, true, fmt.Errorf("table %s: key column %d out of range", p.table, k)
		}
		c := table.Columns[k]
		rc := r.cols[c.Name]
		if rc != nil && rc.drop {
			rc = nil // drop does not apply to the key: it identifies the row
		}
		if r.includeSource && outName(c, rc) == "source" {
			return Shape{}, true, fmt.Errorf("%s: table %s: key.include_source: the table's key has a field named \"source\"; rename it", r.describe(), p.table)
		}
		shape.Key = append(shape.Key, outColumn(c, rc))
	}
	return shape, true, nil
}

func outColumn(c capture.Column, rc *column) Column {
	out := Column{Name: c.Name, Source: c.Name, Type: c.Type}
	if rc != nil {
		out.Name, out.Cast, out.Mask = rc.out, rc.castTo, rc.maskKind
	}
	return out
}

func outName(c capture.Column, rc *column) string {
	if rc != nil {
		return rc.out
	}
	return c.Name
}

// producer is the rule that introduces an output name, for errors.
func producer(r *rules, name string) string {
	for _, p := range r.produced {
		if p.name == name {
			return p.rule
		}
	}
	return "rename"
}

func indexOf(cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}
