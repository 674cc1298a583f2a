package capturetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

func testOrderAndImages(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	s := start(t, src, currentPosition(t, src))
	exec(t, tg,
		"INSERT INTO t VALUES (1, 'a')",
		"INSERT INTO t VALUES (2, 'b')",
		"UPDATE t SET v = 'a2' WHERE id = 1",
		"UPDATE t SET id = 3 WHERE id = 2",
		"DELETE FROM t WHERE id = 1")
	want := []string{
		"t c -→(1,a)",
		"t c -→(2,b)",
		"t u (1,a)→(1,a2)",
		"t u (2,b)→(3,b)",
		"t d (1,a2)→-",
	}
	evs := s.waitCommitAfter(t, "t", len(want))
	if got := s.rec.rows("t"); !slices.Equal(got, want) {
		t.Fatalf("changes\n got %q\nwant %q", got, want)
	}
	// Autocommit: every change is its own transaction, so a Commit follows
	// each one and the commits' positions only grow.
	var last string
	changes := 0
	for _, e := range evs {
		switch {
		case e.change != nil:
			changes++
			if changes > 1 && last == "" {
				t.Fatalf("change %d came before any Commit", changes)
			}
		case e.commit != nil:
			if last != "" && cmp(t, tg, e.commit.Position, last) < 0 {
				t.Fatalf("Commit %s after %s: positions went back", e.commit.Position, last)
			}
			last = e.commit.Position
		}
	}
	for _, e := range evs {
		if e.change != nil && e.change.Table.Database != tg.Schema {
			t.Errorf("change of %s.%s, want schema %s", e.change.Table.Database, e.change.Table.Name, tg.Schema)
		}
	}
}

func testCommitOnlyAtTransactionEnd(t *testing.T, h Harness) {
	tg := h.Setup(t, "t1", "t2")
	src := tg.NewSource(t, false)
	from := currentPosition(t, src)
	s := start(t, src, from)
	exec(t, tg, "INSERT INTO t1 VALUES (1, 'before')")
	s.waitCommitAfter(t, "t1", 1)
	exec(t, tg,
		"BEGIN",
		"INSERT INTO t1 VALUES (10, 'kept')",
		"SAVEPOINT s1",
		"INSERT INTO t1 VALUES (11, 'rolled back')",
		"ROLLBACK TO SAVEPOINT s1",
		"INSERT INTO t2 VALUES (12, 'other table')",
		"SAVEPOINT s2",
		"UPDATE t1 SET v = 'kept2' WHERE id = 10",
		"RELEASE SAVEPOINT s2",
		"COMMIT")
	evs := s.waitCommitAfter(t, "t1", 3)
	// The transaction: its changes, then exactly one Commit.
	first := slices.IndexFunc(evs, func(e event) bool {
		return e.change != nil && e.change.Table.Name == "t1" && fmt.Sprint(e.change.After[0]) == "10"
	})
	if first < 1 || evs[first-1].commit == nil {
		t.Fatalf("the transaction does not start right after a Commit: %s", dump(evs))
	}
	before := evs[first-1].commit.Position
	var got []string
	i := first
	for ; i < len(evs) && evs[i].change != nil; i++ {
		c := evs[i].change
		got = append(got, describe(c))
		if cmp(t, tg, c.Position, before) != 0 {
			t.Errorf("%s resumes from %s, want the Commit before its transaction, %s", describe(c), c.Position, before)
		}
		if c.TxID == "" || c.TxID != evs[first].change.TxID {
			t.Errorf("%s has TxID %q, want the transaction's %q", describe(c), c.TxID, evs[first].change.TxID)
		}
	}
	want := []string{"t1 c -→(10,kept)", "t2 c -→(12,other table)", "t1 u (10,kept)→(10,kept2)"}
	if !slices.Equal(got, want) {
		t.Fatalf("transaction's changes\n got %q\nwant %q\nall: %s", got, want, dump(evs))
	}
	if i >= len(evs) || evs[i].commit == nil {
		t.Fatalf("no Commit right after the transaction: %s", dump(evs))
	}
	// Resuming from the Commit before the transaction gives it again,
	// whole; from the Commit after it, nothing of it.
	s.stop(t)
	again := start(t, tg.NewSource(t, false), evs[first-1].commit.ResumeAt())
	if rows := again.waitRows(t, "t1", 2); !slices.Equal(rows[:2], []string{"t1 c -→(10,kept)", "t1 u (10,kept)→(10,kept2)"}) {
		t.Errorf("resumed from the Commit before the transaction: %q", rows)
	}
	again.stop(t)
	after := start(t, tg.NewSource(t, false), evs[i].commit.ResumeAt())
	exec(t, tg, "INSERT INTO t1 VALUES (20, 'next')")
	if rows := after.waitRows(t, "t1", 1); rows[0] != "t1 c -→(20,next)" {
		t.Errorf("resumed from the Commit after the transaction, first change %q, want the next transaction's", rows[0])
	}
}

func testResumeFromEveryCommit(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	s := start(t, src, currentPosition(t, src))
	const n = 6
	for i := 1; i <= n; i++ {
		exec(t, tg, "BEGIN", fmt.Sprintf("INSERT INTO t VALUES (%d, 'x')", i), fmt.Sprintf("UPDATE t SET v = 'y%d' WHERE id = %d", i, i), "COMMIT")
	}
	evs := s.waitCommitAfter(t, "t", 2*n)
	var commits []capture.Resume // the Commit after each transaction of t
	for i, e := range evs {
		if e.commit != nil && i > 0 && evs[i-1].change != nil && evs[i-1].change.Table.Name == "t" {
			commits = append(commits, e.commit.ResumeAt())
		}
	}
	if len(commits) != n {
		t.Fatalf("%d Commits after the %d transactions: %s", len(commits), n, dump(evs))
	}
	all := s.rec.rows("t")
	ids := eventIDs(s.rec.changes("t"))
	seen := make(map[string]bool)
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("two changes share the event id %s: %q", id, ids)
		}
		seen[id] = true
	}
	s.stop(t)
	for k, pos := range commits[:n-1] {
		r := start(t, tg.NewSource(t, false), pos)
		want := all[2*(k+1):]
		if got := r.waitRows(t, "t", len(want)); !slices.Equal(got[:len(want)], want) {
			t.Errorf("resumed after transaction %d:\n got %q\nwant %q", k+1, got, want)
		}
		// A consumer de-duplicates a replay by event id: the changes a
		// resume delivers again must carry the ids they had.
		wantIDs := ids[2*(k+1):]
		if got := eventIDs(r.rec.changes("t")); !slices.Equal(got[:len(wantIDs)], wantIDs) {
			t.Errorf("resumed after transaction %d, event ids:\n got %q\nwant %q", k+1, got, wantIDs)
		}
		r.stop(t)
	}
}

func eventIDs(cs []*capture.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = eventID(c)
	}
	return out
}

func testPositionGone(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	requirePermanent(t, src, capture.Resume{Position: tg.Gone(t, currentPosition(t, src).Position)}, tg.GoneErr)
}

func testPositionFromTheFuture(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	requirePermanent(t, src, capture.Resume{Position: tg.Future(t, currentPosition(t, src).Position)}, tg.AheadErr)
}

// requirePermanent streams from pos and wants a *capture.PermanentError
// wrapping kind (when set) that names the position, so an operator sees
// which checkpoint the server refused.
func requirePermanent(t *testing.T, src capture.Source, pos capture.Resume, kind error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer src.Close()
	err := src.Stream(ctx, pos, &recorder{})
	var perm *capture.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("Stream(%s) = %v (%T), want a *capture.PermanentError", pos.Position, err, err)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("Stream(%s) = %v, want it to wrap %q", pos.Position, err, kind)
	}
	if !strings.Contains(err.Error(), pos.Position) {
		t.Errorf("Stream(%s) = %v, want the error to name the position", pos.Position, err)
	}
}

func testCancelAndClose(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	done := make(chan error, 1)
	// The zero Resume: the stream starts wherever the server is when it
	// starts, so keep writing until a row shows up.
	go func() { done <- src.Stream(ctx, capture.Resume{}, rec) }()
	st := &stream{rec: rec, done: done}
	deadline := time.Now().Add(60 * time.Second)
	for id := 1; len(rec.changes("t")) == 0; id++ {
		if err := st.failed(); err != nil {
			t.Fatalf("Stream from the zero Resume: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no change within 60s of a stream from the zero Resume")
		}
		exec(t, tg, fmt.Sprintf("INSERT INTO t VALUES (%d, 'a')", id))
		time.Sleep(50 * time.Millisecond) // polling, with a deadline
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Stream after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stream did not return within 10s of its cancellation")
	}
	if err := src.Close(); err != nil {
		t.Errorf("Close after Stream: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func cmp(t *testing.T, tg *Target, a, b string) int {
	t.Helper()
	c, err := tg.Compare(a, b)
	if err != nil {
		t.Fatalf("compare positions %s and %s: %v", a, b, err)
	}
	return c
}

func dump(evs []event) string {
	out := ""
	for _, e := range evs {
		if e.change != nil {
			out += "\n  " + describe(e.change)
		} else {
			out += "\n  COMMIT " + e.commit.Position
		}
	}
	return out
}
