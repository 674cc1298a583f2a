package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// `tributary replay` re-sends a range of binlog history into a topic of its
// own while the daemon keeps streaming: the replay topic holds exactly the
// range's events (same ids, per-key order), and the live topics get no
// duplicates.
func TestReplayRangeIntoOwnTopicWhileDaemonRuns(t *testing.T) {
	s := newSetup(t)
	db, live := prepare(t, s)
	cfg := s.writeConfig(t, "")
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	w := newWorkload(db, s.Database, 100, 11)
	if err := w.run(context.Background(), 500); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, live, w, 2*time.Minute)
	evs, _ := live.snapshot()
	delivered, _ := dedupe(evs)

	// The range: from the start of one transaction to the start of a later
	// one. Replay stops at the first commit at or past --to, which is the
	// commit ending the transaction before it, so the range's events are
	// those whose source.position p has from <= p < to.
	starts := transactionStarts(t, delivered)
	from, to := starts[len(starts)/5], starts[4*len(starts)/5]
	var want []event
	for _, ev := range delivered {
		p := position(t, ev.Source.Position)
		if p.Compare(position(t, from)) >= 0 && p.Compare(position(t, to)) < 0 {
			want = append(want, ev)
		}
	}

	// More changes while the replay runs: the daemon keeps streaming them,
	// the replay must stop at --to regardless.
	writerDone := make(chan error, 1)
	go func() { writerDone <- w.run(context.Background(), w.changes+200) }()

	topic := s.Prefix + ".replay"
	out, err := runCLI(t, "replay", "-c", cfg, "--source", s.Source, "--from", from, "--to", to, "--topic", topic)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if line := fmt.Sprintf("events:        %d (", len(want)); !strings.Contains(out, line) {
		t.Errorf("replay summary lacks %q:\n%s", line, tail(out, 2000))
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}

	replayed := collect(t, 3, topic)
	testenv.Eventually(t, time.Minute, fmt.Sprintf("%d replayed events", len(want)), func() bool {
		evs, errs := replayed.snapshot()
		if len(errs) > 0 {
			t.Fatalf("consuming %s: %v", topic, errs)
		}
		return len(evs) >= len(want)
	})
	time.Sleep(time.Second) // anything beyond the range would arrive meanwhile
	got, _ := replayed.snapshot()
	unique, dups := dedupe(got)
	if dups > 0 || len(got) != len(want) {
		t.Errorf("replay topic holds %d events (%d duplicates), want %d", len(got), dups, len(want))
	}
	if diff := idDiff(want, unique); diff != "" {
		t.Errorf("replay topic ids differ from the live events in [%s, %s): %s", from, to, diff)
	}
	if diffs := compare(perKey(t, want), perKey(t, unique)); len(diffs) > 0 {
		t.Errorf("%d keys' replayed order differs from the live order, e.g.:\n%s", len(diffs), strings.Join(diffs[:min(10, len(diffs))], "\n"))
	}
	deletes := 0
	for _, ev := range want {
		if ev.Op == "d" {
			deletes++
		}
	}
	replayed.mu.Lock()
	tombstones := replayed.tombstones
	replayed.mu.Unlock()
	if tombstones != deletes {
		t.Errorf("replay topic has %d tombstones, want one per delete (%d)", tombstones, deletes)
	}

	// The live topics got every change in commit order and nothing from the
	// replay. Had the replay registered with the daemon's server_id, the
	// server would have dropped the daemon's binlog connection: a source
	// failure and a restart from the checkpoint, re-sending events.
	dups = waitDelivered(t, live, w, 2*time.Minute)
	byKind := d.restartsByKind(t, s.Source)
	var restarts float64
	for kind, n := range byKind {
		restarts += n
		if kind != metrics.KindKafka {
			t.Errorf("the daemon's source failed while the replay ran: %v restarts after %s failures; last error: %s",
				n, kind, d.status(t).LastError)
		}
	}
	switch {
	case restarts == 0 && dups > 0:
		t.Errorf("live topics hold %d duplicate events", dups)
	case restarts > 0:
		// Other tests share the broker and may restart it; a Kafka failure
		// makes the daemon re-send from its checkpoint, which is not the
		// replay's doing.
		t.Logf("the daemon restarted %v times after Kafka failures; %d duplicates on the live topics", restarts, dups)
	}
	t.Logf("replayed %d events of %d transactions between %s and %s; the daemon streamed %d changes meanwhile, %d duplicates on the live topics",
		len(want), countStarts(want), from, to, w.changes, dups)

	t.Run("purged start", func(t *testing.T) {
		current := currentBinlog(t, db)
		purged := current[:strings.LastIndexByte(current, '.')] + ".000000:4"
		out, err := runCLI(t, "replay", "-c", cfg, "--source", s.Source, "--from", purged, "--to", current, "--topic", topic)
		if err == nil || !strings.Contains(out, "binlog position no longer on the server") {
			t.Fatalf("replay from %s: err %v, want ErrPositionGone's message:\n%s", purged, err, tail(out, 2000))
		}
	})
	d.stop(t)
}

// transactionStarts returns the distinct source.position values, sorted.
func transactionStarts(t *testing.T, evs []event) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, ev := range evs {
		if !seen[ev.Source.Position] {
			seen[ev.Source.Position] = true
			out = append(out, ev.Source.Position)
		}
	}
	sort.Slice(out, func(i, j int) bool { return position(t, out[i]).Compare(position(t, out[j])) < 0 })
	if len(out) < 10 {
		t.Fatalf("only %d transactions delivered", len(out))
	}
	return out
}

func countStarts(evs []event) int {
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.Source.Position] = true
	}
	return len(seen)
}

// idDiff describes the ids only one side has, or returns "".
func idDiff(want, got []event) string {
	in := func(evs []event) map[string]bool {
		m := map[string]bool{}
		for _, ev := range evs {
			m[ev.ID] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var missing, extra []string
	for id := range w {
		if !g[id] {
			missing = append(missing, id)
		}
	}
	for id := range g {
		if !w[id] {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("%d missing (e.g. %v), %d extra (e.g. %v)", len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
}

// currentBinlog is the server's current binlog position, file:pos.
func currentBinlog(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query("SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("SHOW MASTER STATUS returned no row: %v", rows.Err())
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return vals[0].String + ":" + vals[1].String
}
