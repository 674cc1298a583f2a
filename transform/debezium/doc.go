// Package debezium encodes canonical events (transform.Event) the way
// Debezium 3.x with Kafka Connect's JsonConverter writes the same change, so
// that consumers built for Debezium can read Tributary's topics.
//
// # Shape
//
// The value is Debezium's envelope, with JsonConverter schemas.enable=false:
//
//	{"before":{…}|null,"after":{…}|null,"source":{…},"transaction":null,
//	 "op":"c","ts_ms":…,"ts_us":…,"ts_ns":…}
//
// and with schemas.enable=true (Options.Schemas) {"schema":{…},"payload":{…}},
// the schema being the Connect struct JsonConverter writes (type, fields,
// optional, name, version, parameters, default, field). The key is the key
// columns, {"id":42}, or {"schema":{…},"payload":{"id":42}}. A truncate has
// no key (nil). Row images hold every table column: a column the source did
// not log is null, or for PostgreSQL's unchanged TOASTed values in the after
// image, Debezium's placeholder "__debezium_unavailable_value".
//
// # Pinned Debezium settings
//
// The mapping corresponds to these connector settings, Debezium's defaults
// except decimal.handling.mode:
//
//	decimal.handling.mode=string            DECIMAL, NUMERIC as strings (exact, NaN-safe)
//	time.precision.mode=adaptive_time_microseconds (MySQL/MariaDB), adaptive (PostgreSQL)
//	binary.handling.mode=bytes              JsonConverter writes bytes as base64
//	bigint.unsigned.handling.mode=long      or precise, see BigintUnsignedMode
//	interval.handling.mode=numeric          MicroDuration
//	tombstones.on.delete=true               the sink writes the tombstone, not this package
//	provide.transaction.metadata=false      "transaction" is null
//	schema.name.adjustment.mode=none
//
// docs/debezium.md has the type mapping table and every field of the source
// block that differs from Debezium's.
//
// # Tombstones and key changes
//
// Like Debezium, a delete is followed by a tombstone: the caller writes a
// second message with the same key and a null value. An update that changes
// the key arrives as transform's delete + create pair, which is what
// Debezium emits too (delete, tombstone, create).
package debezium
