// Package transform turns capture.Change values into canonical events, the
// one JSON shape Tributary writes to Kafka for every source kind. It is pure:
// no I/O, no clocks (callers pass the build time), no global state.
//
// # Event identity
//
// Every event has an id derived only from where the source logged the row:
//
//	<source name>:<Change.EventPosition>#<Change.RowIndex>
//
// with a suffix ".0" or ".1" for the two halves of a primary-key change (see
// below). Re-reading the same source range after a restart yields the same
// ids, so consumers de-duplicate at-least-once delivery by id.
//
// # Primary-key changes
//
// An UPDATE whose key differs between the before and after images (compared
// by their encoded JSON bytes) becomes two events: a delete of the old key
// (id suffix ".0", before = old row, after = null) followed by a create of
// the new key (id suffix ".1", before = null, after = new row). The two keys
// usually hash to different partitions, so consumers must not rely on the
// delete reaching them before the create. A key column that the source did
// not log (capture.Absent) in one image is taken from the other image, i.e.
// treated as unchanged.
//
// # Tombstones
//
// This package builds no tombstone events. After writing a delete event (op
// "d", including the ".0" half of a key change), the sink writes a second
// message with the same Kafka key (EncodeKey) and a null value, so that log
// compaction can eventually drop every message for that key.
//
// # Encoding
//
// Event.AppendJSON is the hot path: it appends by hand with strconv and
// never uses reflection. Values must be of the canonical types documented on
// capture.Change; anything else is an error naming the column and Go type.
// Errors never include row values, only column names, ids and positions.
package transform
