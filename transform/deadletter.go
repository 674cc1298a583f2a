package transform

import (
	"encoding/json"
)

// DeadLetter is the one record shape of the dead-letter topic
// (kafka.dead_letter_topic), whichever stage refused the event
// (docs/events.md, "Dead letters"):
//
//   - Kind "mapping": a mapping rule could not transform the row. Rule,
//     Table and ID are set; Key and Event are the event as captured, with
//     masked columns masked and dropped ones left out.
//   - Kind "oversized": the encoded message is larger than the topic
//     accepts. Topic, Size, Limit and Seq are set; Key is the message's
//     key; Event is null (the message itself is what was too large).
//
// Both go through the same tracker as events, so the checkpoint waits for
// them. Reason never quotes a row value.
type DeadLetter struct {
	Kind   string          `json:"kind"`
	Reason string          `json:"reason"`
	Rule   string          `json:"rule,omitempty"`
	Table  string          `json:"table,omitempty"`
	ID     string          `json:"id,omitempty"`
	Topic  string          `json:"topic,omitempty"`
	Key    json.RawMessage `json:"key"`
	Size   int             `json:"size,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Seq    uint64          `json:"seq,omitempty"`
	Event  json.RawMessage `json:"event"`
}

// Dead-letter kinds.
const (
	DeadLetterMapping   = "mapping"
	DeadLetterOversized = "oversized"
	// DeadLetterSchemaRegistry: the schema registry rejected the table's
	// new Avro schema (schema_registry.on_incompatible: dead_letter). Table
	// and ID are set; Key and Event are the canonical event as JSON.
	DeadLetterSchemaRegistry = "schema_registry"
)

// Encode returns d as JSON. Key and Event must be JSON or nil (null); a
// key that is not JSON (a raw Kafka key) is written as a JSON string.
func (d DeadLetter) Encode() []byte {
	d.Key = jsonOrString(d.Key)
	if d.Event != nil && !json.Valid(d.Event) {
		d.Event = nil
	}
	out, err := json.Marshal(d)
	if err != nil { // not reachable with valid raw parts; keep a record
		out, _ = json.Marshal(DeadLetter{Kind: d.Kind, Reason: d.Reason})
	}
	return out
}

func jsonOrString(b []byte) json.RawMessage {
	if b == nil || json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}
