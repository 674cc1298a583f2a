// Package mapping applies declarative per-table rules to canonical events:
// it renames tables (entities) and columns, drops, masks and casts columns,
// adds static fields, filters rows, and routes tables to shared topics with
// keys that cannot collide. docs/mapping.md is the user's reference.
//
// # Lifecycle
//
// Compile validates every rule and compiles it (filter expressions, time
// zones, salts) once, at config load; it is the only step that reads the
// environment or files. Apply is pure and safe for concurrent use: one
// Mapper serves every pipeline.
//
// # Order of application
//
// For each event of a mapped table, in this order:
//
//  1. filter, on the source column names and values as captured;
//  2. cast, 3. mask, 4. rename, 5. drop, 6. add, on before, after and key
//     (drop and add leave the key alone);
//  7. entity, topic and key routing.
//
// OutputSchema describes, for a table's columns, the fields Apply writes
// (names, source columns, casts, masks, static values) and the key, so a
// schema-based format (Avro) can type a mapped table's output.
//
// Apply never modifies the event it is given: the output events have rows
// of their own (they may share unchanged values and, where no rule changes
// an image, the image itself, with the input).
package mapping
