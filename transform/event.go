package transform

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/tributary-cdc/tributary/capture"
)

// Connector names, as written in source.connector.
const (
	ConnectorMySQL    = "mysql"
	ConnectorPostgres = "postgres"
)

// Event is the canonical change event. Its JSON form (AppendJSON) has this
// field order, which is part of the contract:
//
//	{"id":…,"op":…,"key":{…},"before":{…}|null,"after":{…}|null,
//	 "absent":{"before":[…],"after":[…]},"source":{…},"ts_ms":…}
//
// "absent" is omitted when no column is absent from either image.
//
// Build copies no values: []byte, json.RawMessage and []string values in
// the rows share memory with the Change, so a source must not reuse those
// buffers once it has handed the Change on.
type Event struct {
	// ID is "<source>:<event position>#<row index>", plus ".0"/".1" for the
	// halves of a key change; identical on replay.
	ID string
	Op capture.Op
	// Key holds the key columns in key order. It is never null in JSON:
	// truncate events have an empty key, {}.
	Key Row
	// Before and After are the row images in column order; nil is null.
	// Absent columns are not in the images; they are listed in Absent.
	Before Row
	After  Row
	Absent AbsentColumns
	Source Source
	// TsMs is when Tributary built the event, in Unix milliseconds.
	TsMs int64
}

// AbsentColumns names the columns the source did not log, per image. An
// absent column is not NULL: consumers keep the value they already have.
type AbsentColumns struct {
	Before []string
	After  []string
}

// Empty reports whether no column is absent.
func (a AbsentColumns) Empty() bool { return len(a.Before) == 0 && len(a.After) == 0 }

// Source says where an event came from.
type Source struct {
	Connector string // ConnectorMySQL or ConnectorPostgres
	Name      string // configured source name
	ServerID  uint32 // MySQL server_id; omitted from JSON when 0
	Database  string
	Table     string
	// Position is the resumable position of the event's transaction.
	Position string
	GTID     string // omitted from JSON when empty
	TxID     string // omitted from JSON when empty
	// TsMs is the change's capture.Change.CommitTime in Unix milliseconds,
	// 0 when unknown. Where MySQL has no original commit timestamp it is the
	// binlog event time: one-second resolution, marking statement start.
	TsMs     int64
	Snapshot bool
}

// Field is one column of a row image.
type Field struct {
	Name  string
	Value any // a canonical value, see capture.Change
}

// Row is an ordered row image. A nil Row encodes as null; a non-nil empty
// Row as {}.
type Row []Field

// AppendJSON appends the row as a JSON object in field order. On error dst
// is returned unchanged in length and the error names the column.
func (r Row) AppendJSON(dst []byte) ([]byte, error) {
	if r == nil {
		return append(dst, "null"...), nil
	}
	n := len(dst)
	dst = append(dst, '{')
	for i, f := range r {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendString(dst, f.Name); err != nil {
			return dst[:n], fmt.Errorf("column name %d: %w", i, err)
		}
		dst = append(dst, ':')
		if dst, err = appendValue(dst, f.Value); err != nil {
			return dst[:n], fmt.Errorf("column %q: %w", f.Name, err)
		}
	}
	return append(dst, '}'), nil
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (r Row) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

// AppendJSON appends the event's JSON encoding to dst. On error dst is
// returned unchanged in length; the error names the event id, the image and
// the column, never a value.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	// Grow once to about the final size instead of doubling along the way
	// (each doubling copies everything written so far).
	if need := e.sizeHint(); cap(dst)-len(dst) < need {
		dst = slices.Grow(dst, need)
	}
	n := len(dst)
	fail := func(part string, err error) ([]byte, error) {
		return dst[:n], fmt.Errorf("encode event %s %s: %w", e.ID, part, err)
	}
	var err error
	dst = append(dst, `{"id":`...)
	if dst, err = appendString(dst, e.ID); err != nil {
		return fail("id", err)
	}
	dst = append(dst, `,"op":`...)
	if dst, err = appendString(dst, string(e.Op)); err != nil {
		return fail("op", err)
	}
	dst = append(dst, `,"key":`...)
	key := e.Key
	if key == nil {
		key = Row{}
	}
	if dst, err = key.AppendJSON(dst); err != nil {
		return fail("key", err)
	}
	dst = append(dst, `,"before":`...)
	if dst, err = e.Before.AppendJSON(dst); err != nil {
		return fail("before", err)
	}
	dst = append(dst, `,"after":`...)
	if dst, err = e.After.AppendJSON(dst); err != nil {
		return fail("after", err)
	}
	if !e.Absent.Empty() {
		dst = append(dst, `,"absent":{"before":`...)
		if dst, err = appendStrings(dst, e.Absent.Before); err != nil {
			return fail("absent", err)
		}
		dst = append(dst, `,"after":`...)
		if dst, err = appendStrings(dst, e.Absent.After); err != nil {
			return fail("absent", err)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"source":`...)
	if dst, err = e.Source.appendJSON(dst); err != nil {
		return fail("source", err)
	}
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, e.TsMs, 10)
	return append(dst, '}'), nil
}

// sizeHint estimates the length of the event's JSON encoding: exact for
// most parts, with some room for escapes in strings.
func (e *Event) sizeHint() int {
	s := &e.Source
	n := 192 + len(e.ID) + len(e.Op) + len(s.Connector) + len(s.Name) + len(s.Database) + len(s.Table) +
		len(s.Position) + len(s.GTID) + len(s.TxID)
	n += rowSizeHint(e.Key) + rowSizeHint(e.Before) + rowSizeHint(e.After)
	if !e.Absent.Empty() {
		n += 32 + stringsSizeHint(e.Absent.Before) + stringsSizeHint(e.Absent.After)
	}
	return n
}

func rowSizeHint(r Row) int {
	n := 4
	for i := range r {
		f := &r[i]
		n += len(f.Name) + 4
		switch v := f.Value.(type) {
		case string:
			n += len(v) + len(v)/32 + 2
		case []byte:
			n += (len(v)+2)/3*4 + 2
		case json.RawMessage:
			n += len(v)
		case []string:
			n += stringsSizeHint(v)
		default:
			n += 24 // numbers, bools, null; arrays grow as needed
		}
	}
	return n
}

func stringsSizeHint(ss []string) int {
	n := 2
	for _, s := range ss {
		n += len(s) + 3
	}
	return n
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

func (s *Source) appendJSON(dst []byte) ([]byte, error) {
	var err error
	str := func(name, v string) {
		if err != nil {
			return
		}
		dst = append(dst, name...)
		dst, err = appendString(dst, v)
	}
	str(`{"connector":`, s.Connector)
	str(`,"name":`, s.Name)
	if s.ServerID != 0 {
		dst = append(dst, `,"server_id":`...)
		dst = strconv.AppendUint(dst, uint64(s.ServerID), 10)
	}
	str(`,"database":`, s.Database)
	str(`,"table":`, s.Table)
	str(`,"position":`, s.Position)
	if s.GTID != "" {
		str(`,"gtid":`, s.GTID)
	}
	if s.TxID != "" {
		str(`,"txid":`, s.TxID)
	}
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, s.TsMs, 10)
	dst = append(dst, `,"snapshot":`...)
	dst = strconv.AppendBool(dst, s.Snapshot)
	return append(dst, '}'), nil
}
