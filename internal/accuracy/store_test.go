package accuracy

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/verify"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(b byte, absent ...string) *verify.Entry {
	e := &verify.Entry{Absent: absent}
	e.Digest[0] = b
	return e
}

// The state keeps entries and offsets per source, counts its bytes as
// documented, applies a truncate in its place in a batch, and survives a
// reopen.
func TestStoreStateAndBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	a, err := s.Source("crm")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Source("erp")
	if err := a.Apply("topic", 2, 10, []verify.Change{
		{Table: "db.t", Key: `{"id":1}`, Entry: entry(1)},
		{Table: "db.t", Key: `{"id":2}`, Entry: entry(2, "doc")},
		{Table: "db.u", Key: `{"id":1}`, Entry: entry(3)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply("topic", 2, 99, []verify.Change{{Table: "db.t", Key: `{"id":9}`, Entry: entry(9)}}); err != nil {
		t.Fatal(err)
	}
	// Bytes: "d\x00crm\x00db.t\x00" (11) + key (8) + 16 digest, the
	// absent column adds "doc\x00".
	if got, want := a.Bytes(), int64(3*(11+8+16)+4); got != want {
		t.Errorf("bytes = %d, want %d", got, want)
	}
	if next, ok, err := a.Next("topic", 2); err != nil || !ok || next != 10 {
		t.Errorf("next = %d, %v, %v; want 10", next, ok, err)
	}
	if _, ok, _ := a.Next("topic", 1); ok {
		t.Error("an unread partition has an offset")
	}
	if e, ok, err := a.Get("db.t", `{"id":2}`); err != nil || !ok || e.Digest[0] != 2 || len(e.Absent) != 1 || e.Absent[0] != "doc" {
		t.Errorf("get = %+v, %v, %v", e, ok, err)
	}
	// A delete, a truncate of db.t between two writes, an update.
	if err := a.Apply("topic", 2, 14, []verify.Change{
		{Table: "db.u", Key: `{"id":1}`},
		{Table: "db.t", Key: `{"id":3}`, Entry: entry(4)},
		{Table: "db.t", Clear: true},
		{Table: "db.t", Key: `{"id":5}`, Entry: entry(5)},
	}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := a.Range("db.t", func(k string, _ verify.Entry) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != `{"id":5}` {
		t.Errorf("db.t after the truncate: %v, want only {\"id\":5}", keys)
	}
	if n, _ := a.Count("db.u"); n != 0 {
		t.Errorf("db.u has %d keys after the delete", n)
	}
	if got, want := a.Bytes(), int64(11+8+16); got != want {
		t.Errorf("bytes after the truncate = %d, want %d", got, want)
	}
	if n, _ := b.Count("db.t"); n != 1 {
		t.Errorf("the other source lost its keys: %d", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer s.Close()
	a, _ = s.Source("crm")
	if got, want := a.Bytes(), int64(11+8+16); got != want {
		t.Errorf("bytes after reopen = %d, want %d", got, want)
	}
	if next, ok, _ := a.Next("topic", 2); !ok || next != 14 {
		t.Errorf("next after reopen = %d, %v; want 14", next, ok)
	}
	if err := a.Forget(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Next("topic", 2); ok || a.Bytes() != 0 {
		t.Errorf("after Forget: offset kept %v, bytes %d", ok, a.Bytes())
	}
}

// A state over its bound pauses the monitor with a reason naming the key,
// and resumes it once under.
func TestMonitorPausesOverItsBound(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	st, _ := s.Source("crm")
	acc := metrics.NewRegistry().Source("crm").Accuracy()
	m := &Monitor{cfg: Config{Source: "crm", StateMaxBytes: 100}, state: st, acc: acc,
		log: slog.New(slog.DiscardHandler), topics: map[string]bool{}, reported: map[string][]string{}}
	if m.checkBound() {
		t.Fatal("an empty state pauses the monitor")
	}
	var changes []verify.Change
	for i := range 5 {
		changes = append(changes, verify.Change{Table: "db.t", Key: string(rune('a' + i)), Entry: entry(byte(i))})
	}
	if err := st.Apply("topic", 0, 5, changes); err != nil {
		t.Fatal(err)
	}
	if !m.checkBound() {
		t.Fatalf("a state of %d bytes does not pause at a bound of 100", st.Bytes())
	}
	if p := acc.Status().Paused; p == "" || !strings.Contains(p, "sources[crm].accuracy.state_max_bytes") {
		t.Errorf("paused reason %q does not name the key", p)
	}
	if err := st.Forget(); err != nil {
		t.Fatal(err)
	}
	if m.checkBound() || acc.Status().Paused != "" {
		t.Error("still paused under the bound")
	}
}
