package mysql

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

func TestSurvivors(t *testing.T) {
	t.Parallel()
	p := func(s string) Position { return positionOf(t, s) }
	row := func(id int64, v string) []any { return []any{id, v} }
	k := func(id int64) string { return capture.KeyString([]any{id}, []int{0}) }
	ob := func(at Position, key string) snapshot.Observed[Position] {
		return snapshot.Observed[Position]{At: at, Key: key}
	}
	chunk := [][]any{row(1, "a"), row(2, "b"), row(3, "c"), row(4, "d")}
	low := p("b.000002:500")
	tests := []struct {
		name   string
		events []snapshot.Observed[Position]
		want   []int
	}{
		{"no events", nil, []int{0, 1, 2, 3}},
		{"before low: already in the chunk", []snapshot.Observed[Position]{ob(p("b.000002:499"), k(2)), ob(p("b.000001:9000"), k(3))}, []int{0, 1, 2, 3}},
		{"at low", []snapshot.Observed[Position]{ob(p("b.000002:500"), k(2))}, []int{0, 2, 3}},
		{"after low, later file", []snapshot.Observed[Position]{ob(p("b.000003:4"), k(4)), ob(p("b.000002:501"), k(1))}, []int{1, 2}},
		{"keys outside the chunk", []snapshot.Observed[Position]{ob(p("b.000002:600"), k(9))}, []int{0, 1, 2, 3}},
		{"same key twice", []snapshot.Observed[Position]{ob(p("b.000002:600"), k(3)), ob(p("b.000002:700"), k(3))}, []int{0, 1, 3}},
	}
	for _, tt := range tests {
		if got := snapshot.Survivors(chunk, []int{0}, tt.events, window{low: low}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: survivors %v, want %v", tt.name, got, tt.want)
		}
	}
	// MySQL flavor: a zero low drops every key changed since the watch,
	// also below SHOW MASTER STATUS (written, maybe not yet visible).
	early := []snapshot.Observed[Position]{ob(p("b.000001:9000"), k(1)), ob(p("b.000002:499"), k(2))}
	if got := snapshot.Survivors(chunk, []int{0}, early, window{}); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("zero low: survivors %v, want [2 3]", got)
	}
	// Composite keys, in key order, compare by canonical value and type.
	comp := [][]any{{"x", int64(1), "v"}, {"x", int64(2), "v"}}
	ev := []snapshot.Observed[Position]{ob(low, capture.KeyString([]any{"x", uint64(1), "other"}, []int{0, 1})), ob(low, capture.KeyString([]any{"x", int64(2), "w"}, []int{0, 1}))}
	if got := snapshot.Survivors(comp, []int{0, 1}, ev, window{low: low}); !reflect.DeepEqual(got, []int{0}) {
		t.Errorf("composite: survivors %v, want [0]", got)
	}
}

// Chunks of two tables wait side by side: each is emitted once the stream
// passed its high watermark, lowest first, without the rows its own
// table's changes made stale, and every Commit carries both cursors.
// (Which reader reads what next is the engine's: capture/snapshot tests it.)
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
	state := &snapshot.State{ID: "s1", Active: []snapshot.Cursor{{Table: "shop.a"}, {Table: "shop.b", After: []any{int64(10)}}}, Pending: []string{"shop.c"}}
	ctx := context.Background()
	eng := snapshot.NewEngine(ctx, state, snapshot.Options[Position]{Config: snapshot.Config{Parallel: 2}, Log: testLogger(), Progress: &snapshot.Progress{}})
	st.snap = eng
	watches := map[string]*snapshot.Watch[Position]{}
	newChunk := func(tbl *capture.Table, at string, prev []any, done bool, ids ...int64) *chunk {
		name := "shop." + tbl.Name
		return &chunk{ID: "s1", Name: name, Table: tbl, Rows: rows(ids...), Window: window{low: pos(at), high: pos(at)}, Prev: prev, Done: done, Watch: watches[name]}
	}
	watches["shop.a"] = eng.Watch("shop.a", nil)
	watches["shop.b"] = eng.Watch("shop.b", nil)
	eng.Observe(a, pos("b.000001:400"), nil, []any{int64(1), "old"}) // before a's low: in the chunk
	eng.Observe(a, pos("b.000001:550"), []any{int64(2), "v"}, nil)   // after a's low: stale
	eng.Observe(a, pos("b.000001:560"), nil, []any{int64(12), "v"})  // a's key 12 is not b's
	eng.Observe(b, pos("b.000001:660"), []any{int64(13), "v"}, []any{int64(13), "w"})
	ca := newChunk(a, "b.000001:500", nil, false, 1, 2, 3)
	cb := newChunk(b, "b.000001:650", []any{int64(10)}, true, 11, 12, 13)
	eng.Queue(cb)
	eng.Queue(ca)

	// The stream has passed a's high watermark only.
	st.lastPos = 600
	if err := st.emitReady(ctx, st.reached); err != nil {
		t.Fatal(err)
	}
	if !isClosed(ca.Emitted()) || isClosed(cb.Emitted()) {
		t.Fatalf("after a's high: a emitted %v, b emitted %v; want only a", isClosed(ca.Emitted()), isClosed(cb.Emitted()))
	}
	if cur, ok := eng.State().Cursor("shop.a"); !ok || !reflect.DeepEqual(cur.After, []any{int64(3)}) {
		t.Errorf("a's cursor %+v, %v; want after 3", cur, ok)
	}

	// a's next (last) chunk arrives; the stream passes both watermarks.
	watches["shop.a"] = eng.Watch("shop.a", nil)
	eng.Observe(a, pos("b.000001:690"), []any{int64(5), "v"}, nil)
	ca2 := newChunk(a, "b.000001:680", []any{int64(3)}, true, 4, 5)
	eng.Queue(ca2)
	st.lastPos = 700
	if err := st.emitReady(ctx, st.reached); err != nil {
		t.Fatal(err)
	}
	if !isClosed(cb.Emitted()) || !isClosed(ca2.Emitted()) {
		t.Fatalf("after both: b emitted %v, a's second emitted %v", isClosed(cb.Emitted()), isClosed(ca2.Emitted()))
	}
	if left := eng.Take(func(*chunk) bool { return true }); len(left) != 0 {
		t.Errorf("chunks left waiting: %d", len(left))
	}

	var got []string
	for _, e := range rec.events {
		switch e := e.(type) {
		case *capture.Change:
			got = append(got, fmt.Sprint(e.Table.Name, " ", e.EventPosition, " ", e.RowIndex))
		case capture.Commit:
			got = append(got, "commit "+snapshotOf(t, e.Snapshot).String())
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
}

func testTable(name string) *capture.Table {
	return &capture.Table{Database: "shop", Name: name, Columns: []capture.Column{{Name: "id"}, {Name: "v"}}, Key: []int{0}}
}

func isClosed(c <-chan struct{}) bool {
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
	if got := snapshot.Survivors(stale, a.Key, nil, window{low: p("b.000002:850")}); len(got) != 1 {
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

// A heartbeat between transactions is a Commit at the resume position with
// the current time (an idle source's lag stays fresh); inside a
// transaction it is nothing.
func TestHeartbeatCommitsWhenIdle(t *testing.T) {
	t.Parallel()
	pos := positionOf(t, "b.000001:400")
	rec := &recorder{}
	st := newStreamState(&Source{log: testLogger()}, nil, rec, pos, nil)
	hb := &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT}}
	before := time.Now()
	if err := st.handle(context.Background(), hb); err != nil {
		t.Fatal(err)
	}
	if len(rec.commits) != 1 || rec.commits[0].Position != pos.String() || rec.commits[0].CommitTime.Before(before) {
		t.Fatalf("commits after an idle heartbeat %+v, want one at %s, now", rec.commits, pos)
	}
	st.txOpen = true
	if err := st.handle(context.Background(), hb); err != nil {
		t.Fatal(err)
	}
	if len(rec.commits) != 1 {
		t.Errorf("a heartbeat inside a transaction committed: %+v", rec.commits)
	}
}
