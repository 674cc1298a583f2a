package mapping

import (
	"fmt"

	"github.com/tributary-cdc/tributary/transform"
)

// RowError is a row the rules cannot map: a value a cast or mask refuses,
// a filter expression that fails at run time, a key field the row lacks.
// The pipeline sends such rows to a dead-letter topic (DeadLetter) and goes
// on. Reason never quotes a row value.
type RowError struct {
	Table  string // "db.table" as captured
	Rule   string // e.g. "cast.is_vip", "mask.phone", "filter", "key.fields.email"
	Reason string

	rules *rules
	err   error
}

func (e *RowError) Error() string {
	if e.rules == nil {
		return fmt.Sprintf("map table %s: %s: %s", e.Table, e.Rule, e.Reason)
	}
	return fmt.Sprintf("map table %s: %s: %s: %s", e.Table, e.rules.describe(), e.Rule, e.Reason)
}

// Unwrap returns the underlying error, if any: for a filter, the
// expression's own message, which may quote row values and so is not part
// of Error.
func (e *RowError) Unwrap() error { return e.err }

func (p *plan) rowErr(rule, reason string, cause error) *RowError {
	return &RowError{Table: p.table, Rule: rule, Reason: reason, rules: p.r, err: cause}
}

// DeadLetterRecord returns the Kafka key and value of the dead-letter
// record (transform.DeadLetter, kind "mapping") of an event Apply refused
// with err. Its key and event are the event as captured (source column
// names, values not cast), except that every column with a mask rule is
// masked and every dropped column is left out, in the key too: the
// dead-letter topic never shows what the mapped topic hides. A value its
// mask refuses is redacted ("***"). The key is the masked key, e.g.
// {"id":42}; it and "event" are null if they do not encode.
func DeadLetterRecord(ev *transform.Event, err *RowError) (key, value []byte) {
	masked := deadLetterEvent(ev, err.rules)
	key, kerr := masked.Key.AppendJSON(nil)
	if kerr != nil {
		key = nil
	}
	body, eerr := masked.AppendJSON(make([]byte, 0, 512))
	if eerr != nil {
		body = nil
	}
	return key, transform.DeadLetter{
		Kind: transform.DeadLetterMapping, Reason: err.Reason, Rule: err.Rule, Table: err.Table, ID: ev.ID,
		Key: key, Event: body,
	}.Encode()
}

// DeadLetter returns the value of DeadLetterRecord's record.
func DeadLetter(ev *transform.Event, err *RowError) []byte {
	_, value := DeadLetterRecord(ev, err)
	return value
}

// DeadLetterKey returns the key of DeadLetterRecord's record.
func DeadLetterKey(ev *transform.Event, err *RowError) []byte {
	key, _ := DeadLetterRecord(ev, err)
	return key
}

func deadLetterEvent(ev *transform.Event, r *rules) transform.Event {
	out := *ev
	if r == nil || r.cols == nil {
		return out
	}
	out.Key = r.hide(ev.Key, true)
	out.Before = r.hide(ev.Before, false)
	out.After = r.hide(ev.After, false)
	out.Absent.Before = r.hideNames(ev.Absent.Before)
	out.Absent.After = r.hideNames(ev.Absent.After)
	return out
}

// hide masks and drops columns of a captured image, without other rules.
func (r *rules) hide(in transform.Row, key bool) transform.Row {
	if in == nil {
		return nil
	}
	out := make(transform.Row, 0, len(in))
	for _, f := range in {
		c := r.cols[f.Name]
		switch {
		case c == nil:
		case c.drop && !key:
			continue
		case c.mask != nil:
			v, err := c.mask(f.Value)
			if err != nil {
				v = redacted
			}
			f.Value = v
		}
		out = append(out, f)
	}
	return out
}

func (r *rules) hideNames(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if c := r.cols[n]; c == nil || !c.drop {
			out = append(out, n)
		}
	}
	return out
}
