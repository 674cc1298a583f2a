package checkpoints

import (
	"testing"
)

// op is one step of a table-driven Tracker scenario.
type op func(t *testing.T, tr *Tracker)

// add calls Add n times and checks the returned sequence numbers continue
// from the previous ones.
func add(n int) op {
	return func(t *testing.T, tr *Tracker) {
		t.Helper()
		for range n {
			want := tr.added + 1
			if got := tr.Add(1); got != want {
				t.Fatalf("Add() = %d, want %d", got, want)
			}
		}
	}
}

func bound(pos string) op {
	return func(_ *testing.T, tr *Tracker) { tr.Boundary(Checkpoint{Position: pos}) }
}

func ack(seqs ...uint64) op {
	return func(_ *testing.T, tr *Tracker) { tr.Ack(seqs) }
}

// want checks Committable: pos "" means nothing new is committable.
func want(pos string) op {
	return func(t *testing.T, tr *Tracker) {
		t.Helper()
		cp, ok := tr.Committable()
		switch {
		case pos == "" && ok:
			t.Fatalf("Committable() = %q, true; want nothing", cp.Position)
		case pos != "" && (!ok || cp.Position != pos):
			t.Fatalf("Committable() = %q, %v; want %q, true", cp.Position, ok, pos)
		}
	}
}

func inFlight(n int) op {
	return func(t *testing.T, tr *Tracker) {
		t.Helper()
		if got := tr.InFlight(); got != n {
			t.Fatalf("InFlight() = %d, want %d", got, n)
		}
	}
}

// notified checks, without blocking, whether a Notify signal is pending,
// and consumes it.
func notified(wantSignal bool) op {
	return func(t *testing.T, tr *Tracker) {
		t.Helper()
		var got bool
		select {
		case <-tr.Notify():
			got = true
		default:
		}
		if got != wantSignal {
			t.Fatalf("Notify signalled = %v, want %v", got, wantSignal)
		}
	}
}

// model is a deliberately naive Tracker used as the oracle in property
// tests: it keeps every boundary and rescans every ack.
type model struct {
	added    uint64
	acked    map[uint64]bool
	bounds   []boundary // every boundary ever recorded, in order
	returned int        // bounds[:returned] were returned or superseded
}

func newModel() *model { return &model{acked: map[uint64]bool{}} }

func (m *model) add() uint64 { m.added++; return m.added }

func (m *model) boundary(cp Checkpoint) {
	m.bounds = append(m.bounds, boundary{upTo: m.added, cp: cp})
}

func (m *model) ack(seqs []uint64) {
	for _, s := range seqs {
		if s >= 1 && s <= m.added {
			m.acked[s] = true
		}
	}
}

func (m *model) inFlight() int { return int(m.added) - len(m.acked) }

func (m *model) committable() (Checkpoint, bool) {
	best := -1
	for i := m.returned; i < len(m.bounds); i++ {
		all := true
		for s := uint64(1); s <= m.bounds[i].upTo; s++ {
			if !m.acked[s] {
				all = false
				break
			}
		}
		if all {
			best = i
		}
	}
	if best < 0 {
		return Checkpoint{}, false
	}
	m.returned = best + 1
	return m.bounds[best].cp, true
}
