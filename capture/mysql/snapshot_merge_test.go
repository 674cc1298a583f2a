package mysql

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

func TestSurvivors(t *testing.T) {
	t.Parallel()
	p := func(s string) Position { return positionOf(t, s) }
	row := func(id int64, v string) []any { return []any{id, v} }
	k := func(id int64) string { return snapshot.KeyString([]any{id}, []int{0}) }
	chunk := [][]any{row(1, "a"), row(2, "b"), row(3, "c"), row(4, "d")}
	low := p("b.000002:500")
	tests := []struct {
		name   string
		events []windowEvent
		want   []int
	}{
		{"no events", nil, []int{0, 1, 2, 3}},
		{"before low: already in the chunk", []windowEvent{{p("b.000002:499"), k(2)}, {p("b.000001:9000"), k(3)}}, []int{0, 1, 2, 3}},
		{"at low", []windowEvent{{p("b.000002:500"), k(2)}}, []int{0, 2, 3}},
		{"after low, later file", []windowEvent{{p("b.000003:4"), k(4)}, {p("b.000002:501"), k(1)}}, []int{1, 2}},
		{"keys outside the chunk", []windowEvent{{p("b.000002:600"), k(9)}}, []int{0, 1, 2, 3}},
		{"same key twice", []windowEvent{{p("b.000002:600"), k(3)}, {p("b.000002:700"), k(3)}}, []int{0, 1, 3}},
	}
	for _, tt := range tests {
		if got := survivors(chunk, []int{0}, tt.events, low); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: survivors %v, want %v", tt.name, got, tt.want)
		}
	}
	// MySQL flavor: a zero low drops every key changed since the watch,
	// also below SHOW MASTER STATUS (written, maybe not yet visible).
	early := []windowEvent{{p("b.000001:9000"), k(1)}, {p("b.000002:499"), k(2)}}
	if got := survivors(chunk, []int{0}, early, Position{}); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("zero low: survivors %v, want [2 3]", got)
	}
	// Composite keys, in key order, compare by canonical value and type.
	comp := [][]any{{"x", int64(1), "v"}, {"x", int64(2), "v"}}
	ev := []windowEvent{{low, snapshot.KeyString([]any{"x", uint64(1), "other"}, []int{0, 1})}, {low, snapshot.KeyString([]any{"x", int64(2), "w"}, []int{0, 1})}}
	if got := survivors(comp, []int{0, 1}, ev, low); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("composite: survivors %v, want [0]", got)
	}
}

func TestSnapMergeObserve(t *testing.T) {
	t.Parallel()
	a, b, c := testTable("a"), testTable("b"), testTable("c")
	m := newSnapMerge(nil, 2, nil)
	m.watch("shop.a")
	m.watch("shop.b")
	at := positionOf(t, "b.000001:10")
	m.observe(a, at, []any{int64(1), "x"}, []any{int64(2), "y"}) // key change: both keys
	m.observe(b, at, nil, []any{int64(3), "z"})
	m.observe(c, at, nil, []any{int64(4), "z"}) // not watched
	k := func(id int64) string { return snapshot.KeyString([]any{id}, []int{0}) }
	if evs := m.watches["shop.a"]; len(evs) != 2 || evs[0].Key != k(1) || evs[1].Key != k(2) {
		t.Errorf("shop.a events %+v", evs)
	}
	if evs := m.watches["shop.b"]; len(evs) != 1 || evs[0].Key != k(3) {
		t.Errorf("shop.b events %+v", evs)
	}
	if _, ok := m.watches["shop.c"]; ok || len(m.watches) != 2 {
		t.Errorf("watches %+v", m.watches)
	}
}

// Readers: one per active table, up to parallel; a finished table's reader
// takes the next pending table; requests add tables and readers.
func TestSnapMergeStartsReaders(t *testing.T) {
	t.Parallel()
	var started []string
	start := func(w work) { started = append(started, w.id+" "+w.cur.Table) }
	m := newSnapMerge(snapshot.New("s1", []string{"d.a", "d.b", "d.c"}), 2, start)
	m.begin()
	if !reflect.DeepEqual(started, []string{"s1 d.a", "s1 d.b"}) {
		t.Fatalf("begin started %v", started)
	}
	if added := m.add("s2", []string{"d.c", "d.d"}); !reflect.DeepEqual(added, []string{"d.d"}) || len(started) != 2 {
		t.Fatalf("add: added %v, started %v", added, started)
	}
	next := m.advance(&chunk{name: "d.a", done: true})
	if next == nil || next.id != "s1" || next.cur.Table != "d.c" || len(started) != 2 {
		t.Fatalf("after d.a: next %+v, started %v", next, started)
	}
	if got := m.state.Tables(); !reflect.DeepEqual(got, []string{"d.b", "d.c", "d.d"}) {
		t.Errorf("state tables %v", got)
	}

	// A resumed state with more active tables than parallel resumes all.
	started = nil
	resumed := &snapshot.State{ID: "s3", Active: []snapshot.Cursor{{Table: "d.a", After: []any{int64(5)}}, {Table: "d.b"}, {Table: "d.c"}}}
	m = newSnapMerge(resumed, 2, start)
	m.begin()
	if len(started) != 3 {
		t.Errorf("resumed: started %v", started)
	}
	// A request with no snapshot running starts a new one.
	started = nil
	m = newSnapMerge(nil, 2, start)
	m.add("s4", []string{"d.x"})
	if m.state.ID != "s4" || !reflect.DeepEqual(started, []string{"s4 d.x"}) {
		t.Errorf("new snapshot %+v, started %v", m.state, started)
	}
}

// Chunks of two tables wait side by side: each is emitted once the stream
// passed its high watermark, lowest first, without the rows its own
// table's changes made stale, and every Commit carries both cursors.
func TestSnapMergeTwoTables(t *testing.T) {
	t.Parallel()
	a, b := testTable("a"), testTable("b")
	rows := func(ids ...int64) [][]any {
		var out [][]any
		for _, id := range ids {
			out = append(out, []any{id, "v"})
		}
		return out
	}
	pos := func(s string) Position { return positionOf(t, s) }
	rec := &recorder{}
	s := &Source{log: testLogger()}
	st := newStreamState(s, nil, rec, pos("b.000001:4"), nil)
	var started []string
	state := &snapshot.State{ID: "s1", Active: []snapshot.Cursor{{Table: "shop.a"}, {Table: "shop.b", After: []any{int64(10)}}}, Pending: []string{"shop.c"}}
	st.snap = newSnapMerge(state, 2, func(w work) { started = append(started, w.cur.Table) })
	m := st.snap
	ctx := context.Background()
	newChunk := func(tbl *capture.Table, at string, prev []any, done bool, ids ...int64) *chunk {
		return &chunk{id: "s1", name: "shop." + tbl.Name, table: tbl, rows: rows(ids...), low: pos(at), high: pos(at), prev: prev, done: done, emitted: make(chan struct{})}
	}
	m.watch("shop.a")
	m.watch("shop.b")
	m.observe(a, pos("b.000001:400"), nil, []any{int64(1), "old"}) // before a's low: in the chunk
	m.observe(a, pos("b.000001:550"), []any{int64(2), "v"}, nil)   // after a's low: stale
	m.observe(a, pos("b.000001:560"), nil, []any{int64(12), "v"})  // a's key 12 is not b's
	m.observe(b, pos("b.000001:660"), []any{int64(13), "v"}, []any{int64(13), "w"})
	ca := newChunk(a, "b.000001:500", nil, false, 1, 2, 3)
	cb := newChunk(b, "b.000001:650", []any{int64(10)}, true, 11, 12, 13)
	m.queue(cb)
	m.queue(ca)

	// The stream has passed a's high watermark only.
	st.lastPos = 600
	if err := st.emitReady(ctx, st.reached); err != nil {
		t.Fatal(err)
	}
	if len(m.pending) != 1 || m.pending[0] != cb || !isClosed(ca.emitted) || isClosed(cb.emitted) {
		t.Fatalf("after a's high: pending %v", m.pending)
	}
	if ca.next == nil || ca.next.cur.Table != "shop.a" || !reflect.DeepEqual(ca.next.cur.After, []any{int64(3)}) {
		t.Errorf("a's next work %+v", ca.next)
	}

	// a's next (last) chunk arrives; the stream passes both watermarks.
	m.watch("shop.a")
	m.observe(a, pos("b.000001:690"), []any{int64(5), "v"}, nil)
	ca2 := newChunk(a, "b.000001:680", []any{int64(3)}, true, 4, 5)
	m.queue(ca2)
	st.lastPos = 700
	if err := st.emitReady(ctx, st.reached); err != nil {
		t.Fatal(err)
	}
	if len(m.pending) != 0 || !isClosed(cb.emitted) || !isClosed(ca2.emitted) {
		t.Fatalf("after both: pending %v", m.pending)
	}

	var got []string
	for _, e := range rec.events {
		switch e := e.(type) {
		case *capture.Change:
			got = append(got, fmt.Sprint(e.Table.Name, " ", e.EventPosition, " ", e.RowIndex))
		case capture.Commit:
			got = append(got, "commit "+positionOf(t, e.Position).Snapshot.String())
		}
	}
	want := []string{
		`a snapshot:shop.a:{"id":1}@s1 0`, `a snapshot:shop.a:{"id":3}@s1 0`,
		"commit shop.a (resuming), shop.b (resuming); 1 tables pending",
		`b snapshot:shop.b:{"id":11}@s1 0`, `b snapshot:shop.b:{"id":12}@s1 0`,
		"commit shop.a (resuming), shop.c",
		`a snapshot:shop.a:{"id":4}@s1 0`,
		"commit shop.c",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("emitted\n%q\nwant\n%q", got, want)
	}
	// b's reader takes shop.c; a's reader ends: no reader is started.
	if cb.next == nil || cb.next.cur.Table != "shop.c" || ca2.next != nil || len(started) != 0 {
		t.Errorf("b's next %+v, a's next %+v, started %v", cb.next, ca2.next, started)
	}
	if len(m.watches) != 0 {
		t.Errorf("watches left %+v", m.watches)
	}
}

func testTable(name string) *capture.Table {
	return &capture.Table{Database: "shop", Name: name, Columns: []capture.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// The MySQL flavor's reader waits for the GTIDs the loop emitted, the open
// transaction's included: its early rows were not recorded by the watch.
func TestEmittedGTIDs(t *testing.T) {
	t.Parallel()
	const a = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	gs, _ := parseMySQLGTIDSet(a + ":1-6")
	st := &streamState{gset: gs}
	if got := st.emittedGTIDs(); got != a+":1-6" {
		t.Errorf("between transactions: %q", got)
	}
	st.txGTID, st.txOpen = a+":7", true
	if got := st.emittedGTIDs(); got != a+":1-7" {
		t.Errorf("inside transaction 7: %q, want %s:1-7", got, a)
	}
	if gs.String() != a+":1-6" {
		t.Errorf("the stream's own set changed: %s", gs)
	}
	if got := (&streamState{}).emittedGTIDs(); got != "" {
		t.Errorf("without GTIDs: %q", got)
	}
}

// MariaDB's dump thread can send a transaction before the engine commits
// it: the stream emits its update, then a chunk's consistent snapshot is
// taken at a position before that transaction and still holds the old row.
// Nothing in the watch (it began after the update) drops that row, so the
// chunk must be read again (found as one stale row in
// TestSnapshotParallelTables).
func TestChunkOlderThanAnEmittedChangeIsReadAgain(t *testing.T) {
	t.Parallel()
	p := func(s string) Position { return positionOf(t, s) }
	a, b := testTable("a"), testTable("b")
	st := &streamState{h: &recorder{}, src: &Source{}}
	update := &capture.Change{Op: capture.OpUpdate, Table: a, Before: []any{int64(5), "old"}, After: []any{int64(5), "new"}}
	if err := st.emit(context.Background(), update, p("b.000002:900")); err != nil {
		t.Fatal(err)
	}
	if err := st.emit(context.Background(), &capture.Change{Op: capture.OpCreate, Table: b, After: []any{int64(1), "x"}}, p("b.000002:1200")); err != nil {
		t.Fatal(err)
	}
	lastA := st.lastRowAt[[2]string{"shop", "a"}]
	if lastA != p("b.000002:900") {
		t.Fatalf("last emitted rows event of shop.a %v, want b.000002:900", lastA)
	}
	// The watch starts after the update: survivors alone keeps the stale row.
	stale := [][]any{{int64(5), "old"}}
	if got := survivors(stale, a.Key, nil, p("b.000002:850")); len(got) != 1 {
		t.Fatalf("survivors %v: the precondition of this test changed", got)
	}
	tests := []struct {
		low  string
		want bool
	}{
		{"b.000002:850", false},   // before the update's transaction
		{"b.000002:900", false},   // at the rows event: its transaction is not in the snapshot
		{"b.000001:99999", false}, // an older file
		{"b.000002:1000", true},   // after it: the update is in the chunk
		{"b.000003:4", true},
	}
	for _, tt := range tests {
		if got := coversEmitted(p(tt.low), lastA); got != tt.want {
			t.Errorf("coversEmitted(%s, %v) = %v, want %v", tt.low, lastA, got, tt.want)
		}
	}
	if !coversEmitted(p("b.000001:4"), Position{}) {
		t.Error("a table with no emitted rows events: every snapshot covers it")
	}
}
