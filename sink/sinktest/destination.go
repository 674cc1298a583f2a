package sinktest

import (
	"fmt"
	"slices"
	"testing"
)

// expect says what a topic must hold, per key, next to what was written.
type expect int

const (
	// exactly what was written, in order, nothing twice.
	exactly expect = iota
	// what was written, in order, once duplicates are dropped (retries may
	// re-send).
	deduplicated
	// once duplicates are dropped, the first messages of what was written,
	// in order: nothing after a message that is missing.
	prefix
)

// tombstone stands for a nil Value among the values compared.
const tombstone = "\x00tombstone"

func valueID(v []byte) string {
	if v == nil {
		return tombstone
	}
	return string(v)
}

func show(id string) string {
	if id == tombstone {
		return "a tombstone"
	}
	return fmt.Sprintf("%q", id)
}

// checkTopic reads topic and checks it against the messages written to
// it, and that every message acked with nil is there. A message whose
// Write returned an error counts as written only for prefix: it may have
// been handed over before the sink refused the rest.
func (r *run) checkTopic(t *testing.T, h Harness, topic string, e expect) {
	t.Helper()
	got := h.Read(t, topic)

	r.mu.Lock()
	want := map[string][]string{} // key → value ids in write order
	var acked []uint64
	for _, seq := range r.order {
		if m := r.msgs[seq]; m.Topic == topic && (r.sent[seq] || e == prefix) {
			want[string(m.Key)] = append(want[string(m.Key)], valueID(m.Value))
			if r.ok[seq] > 0 {
				acked = append(acked, seq)
			}
		}
	}
	msgs := r.msgs
	r.mu.Unlock()

	held := map[string][]string{}
	for _, rec := range got {
		k, id := string(rec.Key), valueID(rec.Value)
		if !slices.Contains(want[k], id) {
			t.Errorf("%s holds %s for key %q, which was never written to it", topic, show(id), k)
			return
		}
		held[k] = append(held[k], id)
	}
	for k, w := range want {
		have := held[k]
		if e != exactly {
			have = firsts(have)
		}
		n := len(w)
		if e == prefix {
			n = min(len(have), len(w))
		}
		if i := firstDiff(have, w[:n]); i >= 0 {
			t.Errorf("%s, key %s: %s", topic, k, describeDiff(have, w, i, e))
		}
	}
	for _, seq := range acked {
		m := msgs[seq]
		if !slices.Contains(held[string(m.Key)], valueID(m.Value)) {
			t.Errorf("%s: seq %d (%s, %s) was acked but the destination does not hold it", topic, seq, m.Describe, show(valueID(m.Value)))
			return
		}
	}
}

// firsts drops every repeat of an id, keeping its first place.
func firsts(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// firstDiff is the first index where got and want differ, -1 if equal.
func firstDiff(got, want []string) int {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}

func describeDiff(got, want []string, i int, e expect) string {
	what := map[expect]string{exactly: "", deduplicated: " (duplicates dropped)", prefix: " (duplicates dropped)"}[e]
	switch {
	case i >= len(got):
		return fmt.Sprintf("the destination holds %d messages%s, want %d: %s and later are missing", len(got), what, len(want), show(want[i]))
	case i >= len(want):
		return fmt.Sprintf("the destination holds %d messages%s, want %d: %s is extra", len(got), what, len(want), show(got[i]))
	case e == prefix:
		return fmt.Sprintf("message %d%s is %s, want %s: a later message landed while an earlier one is missing", i, what, show(got[i]), show(want[i]))
	}
	return fmt.Sprintf("message %d%s is %s, want %s (missing, reordered or duplicated)", i, what, show(got[i]), show(want[i]))
}
