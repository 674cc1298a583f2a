package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// builtinTypes are the types with a fixed OID that decode to something other
// than their text form as a string, plus the string types named in docs,
// and arrays of all of them. Other types are looked up in pg_type once.
var builtinTypes = func() map[uint32]*pgType {
	m := map[uint32]*pgType{}
	add := func(oid, arrayOID uint32, name string, k kind) {
		t := &pgType{name: name, kind: k}
		m[oid] = t
		m[arrayOID] = &pgType{name: name + "[]", kind: kindArray, elem: t}
	}
	add(pgtype.Int2OID, pgtype.Int2ArrayOID, "int2", kindInt)
	add(pgtype.Int4OID, pgtype.Int4ArrayOID, "int4", kindInt)
	add(pgtype.Int8OID, pgtype.Int8ArrayOID, "int8", kindInt)
	add(pgtype.OIDOID, pgtype.OIDArrayOID, "oid", kindInt)
	add(pgtype.Float4OID, pgtype.Float4ArrayOID, "float4", kindFloat4)
	add(pgtype.Float8OID, pgtype.Float8ArrayOID, "float8", kindFloat8)
	add(pgtype.NumericOID, pgtype.NumericArrayOID, "numeric", kindString)
	add(pgtype.BoolOID, pgtype.BoolArrayOID, "bool", kindBool)
	add(pgtype.TextOID, pgtype.TextArrayOID, "text", kindString)
	add(pgtype.VarcharOID, pgtype.VarcharArrayOID, "varchar", kindString)
	add(pgtype.BPCharOID, pgtype.BPCharArrayOID, "bpchar", kindString)
	add(pgtype.NameOID, pgtype.NameArrayOID, "name", kindString)
	add(pgtype.ByteaOID, pgtype.ByteaArrayOID, "bytea", kindBytea)
	add(pgtype.UUIDOID, pgtype.UUIDArrayOID, "uuid", kindString)
	add(pgtype.DateOID, pgtype.DateArrayOID, "date", kindString)
	add(pgtype.TimeOID, pgtype.TimeArrayOID, "time", kindString)
	add(pgtype.TimetzOID, pgtype.TimetzArrayOID, "timetz", kindString)
	add(pgtype.TimestampOID, pgtype.TimestampArrayOID, "timestamp", kindString)
	add(pgtype.TimestamptzOID, pgtype.TimestamptzArrayOID, "timestamptz", kindTimestamptz)
	add(pgtype.IntervalOID, pgtype.IntervalArrayOID, "interval", kindString)
	add(pgtype.JSONOID, pgtype.JSONArrayOID, "json", kindJSON)
	add(pgtype.JSONBOID, pgtype.JSONBArrayOID, "jsonb", kindJSON)
	return m
}()

// catalogType is a pg_type row.
type catalogType struct {
	name     string
	typtype  string // b base, e enum, d domain, c composite, r range, …
	category string // A for arrays
	elem     uint32 // element type of arrays
	base     uint32 // base type of domains
}

// typeResolver finds the pgType of an OID, from builtinTypes or the catalog,
// and caches it. It is used by the stream goroutine only.
type typeResolver struct {
	lookup func(ctx context.Context, oid uint32) (catalogType, error)
	cache  map[uint32]*pgType
}

func (r *typeResolver) resolve(ctx context.Context, oid uint32) (*pgType, error) {
	if t, ok := builtinTypes[oid]; ok {
		return t, nil
	}
	if t, ok := r.cache[oid]; ok {
		return t, nil
	}
	t, err := r.resolveCatalog(ctx, oid, 0)
	if err != nil {
		return nil, err
	}
	if r.cache == nil {
		r.cache = map[uint32]*pgType{}
	}
	r.cache[oid] = t
	return t, nil
}

func (r *typeResolver) resolveCatalog(ctx context.Context, oid uint32, depth int) (*pgType, error) {
	if t, ok := builtinTypes[oid]; ok {
		return t, nil
	}
	if depth > 8 {
		return nil, fmt.Errorf("type %d: domains or arrays nested too deep", oid)
	}
	ct, err := r.lookup(ctx, oid)
	if err != nil {
		return nil, fmt.Errorf("look up type %d in pg_type: %w", oid, err)
	}
	switch {
	case ct.typtype == "e":
		return &pgType{name: ct.name, kind: kindString}, nil
	case ct.typtype == "d" && ct.base != 0:
		base, err := r.resolveCatalog(ctx, ct.base, depth+1)
		if err != nil {
			return nil, err
		}
		return &pgType{name: ct.name, kind: base.kind, elem: base.elem, fallback: base.fallback}, nil
	case ct.category == "A" && ct.elem != 0:
		elem, err := r.resolveCatalog(ctx, ct.elem, depth+1)
		if err != nil {
			return nil, err
		}
		if elem.fallback {
			// Arrays of fallback types stay text: their element delimiter
			// may not be a comma (box uses ';').
			return &pgType{name: elem.name + "[]", kind: kindString}, nil
		}
		return &pgType{name: elem.name + "[]", kind: kindArray, elem: elem}, nil
	default:
		return &pgType{name: ct.name, kind: kindString, fallback: true}, nil
	}
}
