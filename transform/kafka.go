package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// EncodeKey returns the Kafka message key of ev: a JSON object of the key
// columns in key order, e.g. {"id":42}; {} for a truncate. The sink's
// partitioner hashes these bytes (Murmur2), so all events of one row go to
// one partition in order, and a delete's tombstone reuses them.
//
// Build checks that the key encodes, so for events it returned EncodeKey
// never fails. For a hand-made event whose key does not encode it returns
// nil; Event.AppendJSON reports the same error, so encode the value first.
func EncodeKey(ev *Event) []byte {
	key := ev.Key
	if key == nil {
		key = Row{}
	}
	b, err := key.AppendJSON(make([]byte, 0, 32))
	if err != nil {
		return nil
	}
	return b
}

// Kafka limits topic names to 249 characters.
const (
	maxTopicLen   = 249
	truncTopicLen = 240
)

// TopicName returns "<prefix>.<source>.<database>.<table>", without the
// prefix and its dot when prefix is empty.
//
// Kafka topic names allow only [A-Za-z0-9._-]. Every other byte of a part is
// written as "_x" and two lowercase hex digits (a space is "_x20", "é" is
// "_xc3_xa9"). The mapping is kept one-to-one, so that two tables never share
// a topic: in source, database and table, "." is escaped too ("_x2e", as it
// separates the parts), and "_" is escaped ("_x5f") when an "x" follows it,
// so that a literal "_x" is never read as an escape. The prefix keeps its
// dots (it may be "prod.cdc").
//
// A name longer than 249 characters is cut to 240 and given "-" and the
// first 8 hex digits of the SHA-256 of the full escaped name.
func TopicName(prefix, source, database, table string) string {
	var b strings.Builder
	if prefix != "" {
		escapeTopicPart(&b, prefix, true)
		b.WriteByte('.')
	}
	escapeTopicPart(&b, source, false)
	b.WriteByte('.')
	escapeTopicPart(&b, database, false)
	b.WriteByte('.')
	escapeTopicPart(&b, table, false)
	name := b.String()
	if len(name) <= maxTopicLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:truncTopicLen] + "-" + hex.EncodeToString(sum[:4])
}

func escapeTopicPart(b *strings.Builder, s string, keepDots bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case c == '.' && keepDots:
		case c == '_' && (i+1 == len(s) || s[i+1] != 'x'):
		default:
			b.WriteString("_x")
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}
