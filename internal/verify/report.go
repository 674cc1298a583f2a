package verify

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Report is the outcome of Run, one entry per table in the order verified.
type Report struct {
	Tables []TableReport
}

// Differences is the number of keys that differ, over all tables.
func (r Report) Differences() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Differences()
	}
	return n
}

// TableReport is what verification found for one table. Keys are the
// events' key JSON; values are never reported.
type TableReport struct {
	Database, Table, Topic string
	// Topics are the topics the table's rows go to (Topic, or where its
	// mapping routes them), all caught up for the comparison.
	Topics []string
	// TopicMissing is true when the topic does not exist (no event yet).
	TopicMissing bool
	Rows         int64 // source rows compared
	TopicKeys    int64 // keys of the table in the topic state when the scan ended
	Messages     int64 // topic messages read, re-checks included (tombstones not counted)

	Missing   Diff // in the source, not in the topic
	Extra     Diff // in the topic, not in the source
	Differing Diff // in both, different values

	// Lost counts topic messages retention deleted before they were read
	// (not compacted away: never read at all): keys whose latest event was
	// among them show as missing.
	Lost int64
	// Partial counts rows whose latest event lacked columns (listed in its
	// "absent"); only the columns it carried were compared.
	Partial int64
	// Rechecks is the number of re-check rounds run, Resolved the suspects
	// that agreed on re-check (in-flight writes), NotRechecked the
	// differences reported without re-check (beyond Options.MaxRecheckKeys).
	Rechecks     int
	Resolved     int64
	NotRechecked int64
	// Unsettled counts the suspects whose source row changed between
	// every two looks: keys written faster than the re-checks can judge,
	// not counted as differences.
	Unsettled int64
}

// Diff is one kind of difference: how many keys, and up to
// Options.Examples of them, sorted.
type Diff struct {
	Count int64
	Keys  []string
}

// Differences is the number of keys of the table that differ.
func (t TableReport) Differences() int64 {
	return t.Missing.Count + t.Extra.Count + t.Differing.Count
}

func (t *TableReport) add(k diffKind, key string, examples int) {
	var d *Diff
	switch k {
	case missing:
		d = &t.Missing
	case extra:
		d = &t.Extra
	case differing:
		d = &t.Differing
	default:
		return
	}
	d.Count++
	if len(d.Keys) < examples {
		d.Keys = append(d.Keys, key)
	}
}

func (t *TableReport) sortExamples() {
	for _, d := range []*Diff{&t.Missing, &t.Extra, &t.Differing} {
		sort.Strings(d.Keys)
	}
}

// Write prints the report, a few lines per table.
func (r Report) Write(w io.Writer) error {
	for _, t := range r.Tables {
		status := "OK"
		if n := t.Differences(); n > 0 {
			status = plural(n, "row differs", "rows differ")
		}
		topic := t.Topic
		if t.TopicMissing {
			topic += ", does not exist"
		}
		if _, err := fmt.Fprintf(w, "%s.%s (topic %s): %d source rows, %d topic keys, %d messages: %s\n",
			t.Database, t.Table, topic, t.Rows, t.TopicKeys, t.Messages, status); err != nil {
			return err
		}
		var notes []string
		if t.Resolved > 0 {
			notes = append(notes, plural(t.Resolved, "key", "keys")+" agreed on re-check (writes in flight)")
		}
		if t.Partial > 0 {
			notes = append(notes, plural(t.Partial, "row", "rows")+" compared on the columns its latest event carried")
		}
		if t.Unsettled > 0 {
			notes = append(notes, plural(t.Unsettled, "key", "keys")+" changed at every re-check (writes in flight; not judged)")
		}
		if t.Lost > 0 {
			notes = append(notes, plural(t.Lost, "topic message was", "topic messages were")+" deleted by retention before being read")
		}
		if t.NotRechecked > 0 {
			notes = append(notes, plural(t.NotRechecked, "difference", "differences")+" not re-checked")
		}
		if len(notes) > 0 {
			if _, err := fmt.Fprintf(w, "  %s\n", strings.Join(notes, "; ")); err != nil {
				return err
			}
		}
		for _, d := range []struct {
			name string
			diff Diff
		}{{"missing from topic", t.Missing}, {"extra in topic", t.Extra}, {"differing", t.Differing}} {
			if d.diff.Count == 0 {
				continue
			}
			if _, err := fmt.Fprintf(w, "  %s: %d\n", d.name, d.diff.Count); err != nil {
				return err
			}
			for _, k := range d.diff.Keys {
				fmt.Fprintf(w, "    %s\n", k)
			}
		}
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
