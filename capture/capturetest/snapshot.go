package capturetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

func testPositionerAndLag(t *testing.T, h Harness) {
	tg := h.Setup(t, "t")
	src := tg.NewSource(t, false)
	exec(t, tg, "INSERT INTO t VALUES (1, 'before the position')")
	from := currentPosition(t, src)
	exec(t, tg, "INSERT INTO t VALUES (2, 'after it')")
	s := start(t, src, from)
	evs := s.waitCommitAfter(t, "t", 1)
	if rows := s.rec.rows("t"); rows[0] != "t c -→(2,after it)" {
		t.Fatalf("from CurrentPosition the first change is %q, want the insert made after it", rows[0])
	}
	lr, ok := src.(capture.LagReporter)
	if !ok {
		return
	}
	var last string
	for _, e := range evs {
		if e.commit != nil {
			last = e.commit.Position
		}
	}
	ctx := context.Background()
	behind, err := lr.LagBytes(ctx, from.Position)
	if err != nil {
		t.Fatalf("LagBytes(%s): %v", from.Position, err)
	}
	caught, err := lr.LagBytes(ctx, last)
	if err != nil {
		t.Fatalf("LagBytes(%s): %v", last, err)
	}
	if behind <= 0 || caught < 0 || caught >= behind {
		t.Errorf("LagBytes: %d bytes behind the position before an insert, %d behind the Commit after it; want positive and fewer", behind, caught)
	}
}

// A snapshot of a table that a writer keeps changing: the changes, applied
// in order, rebuild exactly the table (no row missing, none stale), and
// the snapshot reports the table done with every row read.
func testSnapshotMeetsTheStream(t *testing.T, h Harness) {
	const rows = 400
	tg := h.Setup(t, "t", "marker")
	var vals []string
	for i := 1; i <= rows; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'row %d')", i, i))
	}
	exec(t, tg, "INSERT INTO t VALUES "+strings.Join(vals, ","))
	src := tg.NewSource(t, true)
	s := start(t, src, currentPosition(t, src))

	// The writer changes keys all over the table while chunks are read.
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	next := rows + 1
	for i := 0; i < 300; i++ {
		id := 1 + r.IntN(rows)
		switch i % 3 {
		case 0:
			exec(t, tg, fmt.Sprintf("UPDATE t SET v = 'upd %d' WHERE id = %d", i, id))
		case 1:
			exec(t, tg, fmt.Sprintf("DELETE FROM t WHERE id = %d", id))
		default:
			exec(t, tg, fmt.Sprintf("INSERT INTO t VALUES (%d, 'new %d')", next, i))
			next++
		}
	}
	// Once the marker arrives, everything before it has.
	exec(t, tg, "INSERT INTO marker VALUES (1, 'end')")
	deadline := time.Now().Add(90 * time.Second)
	for !snapshotDone(src, tg.Schema+".t") || len(s.rec.rows("marker")) == 0 {
		if err := s.failed(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot not done or marker not seen within 90s (progress %+v)", progress(src))
		}
		time.Sleep(50 * time.Millisecond)
	}
	state := map[string]string{}
	reads := 0
	for _, e := range s.rec.all() {
		c := e.change
		if c == nil || c.Table.Name != "t" {
			continue
		}
		switch c.Op {
		case capture.OpDelete:
			delete(state, fmt.Sprint(c.Before[0]))
		case capture.OpUpdate:
			delete(state, fmt.Sprint(c.Before[0]))
			state[fmt.Sprint(c.After[0])] = fmt.Sprint(c.After[1])
		case capture.OpRead:
			reads++
			fallthrough
		case capture.OpCreate:
			state[fmt.Sprint(c.After[0])] = fmt.Sprint(c.After[1])
		}
	}
	table := map[string]string{}
	q, err := tg.DB.Query("SELECT id, v FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for q.Next() {
		var id, v string
		if err := q.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		table[id] = v
	}
	if diff := diffStates(state, table); diff != "" {
		t.Fatalf("state rebuilt from the changes differs from the table (%d snapshot rows):%s", reads, diff)
	}
	if reads == 0 {
		t.Fatal("no snapshot rows")
	}
	if sr, ok := src.(capture.SnapshotReporter); ok {
		for _, p := range sr.SnapshotProgress() {
			// RowsDone counts the rows read, also those a later change made
			// stale and the merge dropped.
			if p.Table == tg.Schema+".t" && (!p.Done || p.RowsDone < int64(reads)) {
				t.Errorf("progress %+v, want done with at least the %d snapshot rows emitted", p, reads)
			}
		}
	}
}

func snapshotDone(src capture.Source, table string) bool {
	for _, p := range progress(src) {
		if p.Table == table {
			return p.Done
		}
	}
	return false
}

func progress(src capture.Source) []capture.TableProgress {
	if sr, ok := src.(capture.SnapshotReporter); ok {
		return sr.SnapshotProgress()
	}
	return nil
}

func diffStates(got, want map[string]string) string {
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		if g != w || gok != wok {
			out = append(out, fmt.Sprintf("key %s: rebuilt %q (present %v), table %q (present %v)", k, g, gok, w, wok))
		}
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("… %d more", len(out)-10))
	}
	if len(out) == 0 {
		return ""
	}
	return "\n  " + strings.Join(out, "\n  ")
}
