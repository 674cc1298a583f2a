package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
)

// DigestSize is the length of a row image digest: the first 16 bytes of
// the SHA-256 of the after image. 128 bits keep an accidental collision
// between a key's two images out of reach while halving what a state
// store holds per key.
const DigestSize = 16

// Digest identifies one after image, byte for byte as the encoder wrote it.
type Digest [DigestSize]byte

// Entry is the latest delivered state of one key: the digest of its after
// image and the columns its latest event did not carry (NOBLOB or MINIMAL
// row images, PostgreSQL unchanged TOAST), which the digest leaves out and
// a comparison leaves out of the source row too.
type Entry struct {
	Digest Digest
	Absent []string
}

// MarshalBinary is the entry as a state store keeps it: the digest, then
// the absent column names, each followed by a NUL.
func (e Entry) MarshalBinary() ([]byte, error) {
	n := DigestSize
	for _, a := range e.Absent {
		n += len(a) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, e.Digest[:]...)
	for _, a := range e.Absent {
		b = append(b, a...)
		b = append(b, 0)
	}
	return b, nil
}

// UnmarshalBinary reads what MarshalBinary wrote.
func (e *Entry) UnmarshalBinary(b []byte) error {
	if len(b) < DigestSize {
		return fmt.Errorf("state entry of %d bytes: want at least %d", len(b), DigestSize)
	}
	copy(e.Digest[:], b)
	e.Absent = nil
	for rest := b[DigestSize:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return fmt.Errorf("state entry: unterminated column name")
		}
		e.Absent = append(e.Absent, string(rest[:i]))
		rest = rest[i+1:]
	}
	return nil
}

// digestOf is the digest of an encoded after image without the columns in
// exclude. With nothing to exclude it hashes the bytes as they are; else it
// hashes each remaining member's name and raw value, in order, so that both
// sides of a comparison (the topic's image, the source row encoded the
// same way) leave out the same columns the same way.
func digestOf(after []byte, exclude []string) (Digest, error) {
	var d Digest
	if len(exclude) == 0 {
		sum := sha256.Sum256(after)
		copy(d[:], sum[:])
		return d, nil
	}
	var members map[string]json.RawMessage
	var order []string
	dec := json.NewDecoder(bytes.NewReader(after))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return d, fmt.Errorf("after image is not a JSON object")
	}
	members = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return d, fmt.Errorf("after image: %w", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return d, fmt.Errorf("after image member %q: %w", name, err)
		}
		if slices.Contains(exclude, name) {
			continue
		}
		members[name] = raw
		order = append(order, name)
	}
	h := sha256.New()
	for _, name := range order {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(members[name])
		h.Write([]byte{0})
	}
	copy(d[:], h.Sum(nil))
	return d, nil
}

// event is what a comparison reads of an encoded event; json.RawMessage
// keeps the after image's bytes exactly as the encoder wrote them.
type event struct {
	Op     string          `json:"op"`
	Key    json.RawMessage `json:"key"`
	After  json.RawMessage `json:"after"`
	Absent *struct {
		After []string `json:"after"`
	} `json:"absent"`
	Source struct {
		Name     string `json:"name"`
		Database string `json:"database"`
		Table    string `json:"table"`
	} `json:"source"`
}

// table is the "db.table" the event's source block names.
func (ev *event) table() string { return ev.Source.Database + "." + ev.Source.Table }

// entry is the state entry of a c, u or r event.
func (ev *event) entry() (Entry, error) {
	var absent []string
	if ev.Absent != nil && len(ev.Absent.After) > 0 {
		absent = ev.Absent.After
	}
	d, err := digestOf(ev.After, absent)
	return Entry{Digest: d, Absent: absent}, err
}
