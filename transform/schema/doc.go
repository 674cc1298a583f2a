// Package schema holds the test that validates canonical events against the
// JSON Schema in docs/event.schema.json. It has no code of its own: the
// schema documents transform.Event's JSON form for consumers, and the test
// keeps the two in step.
package schema
