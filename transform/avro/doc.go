// Package avro encodes canonical events as Avro, for the schema-registry
// output format (format: avro). It is pure: it builds each table's key and
// value schemas from the captured table's columns and turns events into
// Avro binary bodies with github.com/hamba/avro/v2; registering schemas and
// framing bodies in the Confluent wire format (Frame) are the caller's.
//
// Two flavours share the column mapping's spirit:
//
//   - native: the canonical event's fields (id, op, key, before, after,
//     absent, source, ts_ms) in a record <prefix>.<source>.<db>.<table>.Value;
//   - debezium: Debezium's Avro envelope, as its AvroConverter derives it
//     from the Connect schema transform/debezium writes (before, after,
//     source, transaction, op, ts_ms, ts_us, ts_ns in
//     <topic.prefix>.<db>.<table>.Envelope).
//
// A table a mapping matches is written in the native flavour with schemas
// derived from the mapping's output (EncodeMapped, from
// mapping.Mapper.OutputSchema): renamed, dropped, masked, cast and added
// fields, the entity, and the mapped key; records are named after the
// output topic.
//
// Schemas depend on the table (and its mapping) only, never on a value, so
// one table version has one schema: a value a column's logical type cannot
// hold exactly (a zero date, ±infinity, NaN in a numeric) is written in the
// column's string branch instead, with the JSON format's text.
// docs/events.md has the type mapping.
package avro
