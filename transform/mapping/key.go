package mapping

import (
	"bytes"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// fieldsKey builds the key from key.fields; an update that changes it
// becomes a delete of the old key and a create of the new one, as Build
// does for a primary-key change.
func (p *plan) fieldsKey(dst []Output, source string, out *transform.Event) ([]Output, error) {
	var oldKey, newKey transform.Row
	var err error
	switch out.Op {
	case capture.OpDelete:
		oldKey, err = p.keyFrom(out.Before, nil)
		newKey = oldKey
	case capture.OpUpdate:
		if newKey, err = p.keyFrom(out.After, out.Before); err == nil {
			oldKey = newKey
			if out.Before != nil {
				oldKey, err = p.keyFrom(out.Before, out.After)
			}
		}
	default:
		newKey, err = p.keyFrom(out.After, nil)
		oldKey = newKey
	}
	if err != nil {
		return dst, err
	}
	if p.r.includeSource {
		oldKey = prependSource(source, oldKey)
		newKey = prependSource(source, newKey)
	}
	oldEnc, err1 := oldKey.AppendJSON(nil)
	newEnc, err2 := newKey.AppendJSON(nil)
	if err1 != nil || err2 != nil {
		return dst, p.rowErr("key.fields", "the key does not encode as JSON", nil)
	}
	if out.Op != capture.OpUpdate || bytes.Equal(oldEnc, newEnc) {
		out.Key = newKey
		if out.Op == capture.OpDelete {
			out.Key = oldKey
		}
		return append(dst, p.output(out, newEnc)), nil
	}
	del, cre := *out, *out
	del.ID += ".0"
	del.Op, del.Key, del.After, del.Absent.After = capture.OpDelete, oldKey, nil, nil
	cre.ID += ".1"
	cre.Op, cre.Key, cre.Before, cre.Absent.Before = capture.OpCreate, newKey, nil, nil
	cre.After, cre.Absent.After = fillAbsent(out.After, out.Before, out.Absent.After)
	return append(dst, p.output(&del, oldEnc), p.output(&cre, newEnc)), nil
}

// keyFrom takes the key fields from row, or from other where row lacks
// them (a column the source did not log is unchanged).
func (p *plan) keyFrom(row, other transform.Row) (transform.Row, error) {
	key := make(transform.Row, 0, len(p.r.keyFields))
	for _, name := range p.r.keyFields {
		f, ok := field(row, name)
		if !ok {
			f, ok = field(other, name)
		}
		if !ok {
			return nil, p.rowErr("key.fields."+name, "the row has no such field (not logged, dropped or misnamed)", nil)
		}
		key = append(key, f)
	}
	return key, nil
}

func (p *plan) withSource(source string, key transform.Row) (transform.Row, error) {
	if _, ok := field(key, "source"); ok {
		return nil, p.rowErr("key.include_source", `the table's key has a field named "source"; rename it`, nil)
	}
	return prependSource(source, key), nil
}

func prependSource(source string, key transform.Row) transform.Row {
	k := make(transform.Row, 0, len(key)+1)
	k = append(k, transform.Field{Name: "source", Value: source})
	return append(k, key...)
}
