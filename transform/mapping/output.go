package mapping

import "errors"

// AppendJSON appends the event's JSON (transform.Event.AppendJSON) with,
// when the mapping names an entity, an "entity" field right after "op":
//
//	{"id":…,"op":"c","entity":"customer","key":{…},…}
func (o *Output) AppendJSON(dst []byte) ([]byte, error) {
	n := len(dst)
	dst, err := o.Event.AppendJSON(dst)
	if err != nil || o.Entity == "" {
		return dst, err
	}
	at := afterOp(dst[n:])
	if at < 0 {
		return dst[:n], errors.New("encode event: unexpected event JSON")
	}
	at += n
	// Entity names match entityName: no escaping needed.
	field := `,"entity":"` + o.Entity + `"`
	dst = append(dst, field...)
	copy(dst[at+len(field):], dst[at:len(dst)-len(field)])
	copy(dst[at:], field)
	return dst, nil
}

// afterOp returns the offset just after the "op" member of an encoded
// event, {"id":"…","op":"c",…}: the id string is skipped by its escapes, so
// no id can fake the position.
func afterOp(b []byte) int {
	const head = `{"id":"`
	if len(b) < len(head) || string(b[:len(head)]) != head {
		return -1
	}
	i := len(head)
	for i < len(b) && b[i] != '"' {
		if b[i] == '\\' {
			i++
		}
		i++
	}
	i++ // closing quote
	const op = `,"op":"`
	if i+len(op) > len(b) || string(b[i:i+len(op)]) != op {
		return -1
	}
	i += len(op)
	for i < len(b) && b[i] != '"' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	return i + 1
}
