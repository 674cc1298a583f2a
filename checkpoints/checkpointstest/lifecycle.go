package checkpointstest

import (
	"slices"
	"strings"
	"testing"
)

// testReopen closes a store and opens its location again.
func testReopen(t *testing.T, h Harness) {
	t.Run("load and history survive", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, h)
		s := e.open(5)
		commitAll(t, s, "a", "a1", "a2", "a3")
		commitAll(t, s, "b", "b1")
		wantA, wantB := history(t, s, "a"), load(t, s, "b")
		closeStore(t, s)

		s = e.open(5)
		if got := load(t, s, "a"); !same(got, wantA[0]) {
			t.Errorf("Load(a) after reopen = %+v, want %+v", got, wantA[0])
		}
		if got := history(t, s, "a"); !slices.EqualFunc(got, wantA, same) {
			t.Errorf("History(a) after reopen = %+v, want %+v", got, wantA)
		}
		if got := load(t, s, "b"); !same(got, wantB) {
			t.Errorf("Load(b) after reopen = %+v, want %+v", got, wantB)
		}
		commitAll(t, s, "a", "a4")
		wantHistory(t, s, "a", "a4", "a3", "a2", "a1")
	})
	t.Run("smaller limit obeyed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, h)
		s := e.open(5)
		commitAll(t, s, "a", "a1", "a2", "a3")
		closeStore(t, s)

		s = e.open(2)
		if got := load(t, s, "a"); got.Position != "a3" {
			t.Errorf("Load(a) after reopen = %q, want a3", got.Position)
		}
		wantHistory(t, s, "a", "a3", "a2")
		commitAll(t, s, "a", "a4")
		wantHistory(t, s, "a", "a4", "a3")
	})
}

// testInUse opens a location twice: the second Open must fail, saying the
// location is in use, until the first store is closed.
func testInUse(t *testing.T, h Harness) {
	if h.SharedOpen {
		t.Skip("Harness.SharedOpen: the store may be opened twice")
	}
	e := newEnv(t, h)
	first := e.open(5)
	commitAll(t, first, "a", "a1")
	second, err := e.tryOpen(5)
	if err == nil {
		closeStore(t, second)
		t.Fatal("second Open of a location in use succeeded, want an error")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "in use") {
		t.Errorf("second Open error = %q, want it to say the location is in use", err)
	}
	closeStore(t, first)
	// Closing releases the location.
	second = e.open(5)
	if got := load(t, second, "a"); got.Position != "a1" {
		t.Errorf("Load(a) after the first store closed = %q, want a1", got.Position)
	}
}

// testUseAfterClose calls every method of a closed store: each must fail
// with an error, not panic, and a refused Commit must not be stored.
func testUseAfterClose(t *testing.T, h Harness) {
	e := newEnv(t, h)
	s, err := h.Open(t, e.dir, Config{HistoryLimit: 5, Now: e.clock.now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	commitAll(t, s, "a", "a1")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ops := []struct {
		name string
		call func() error
	}{
		{"Load", func() error { _, err := s.Load(t.Context(), "a"); return err }},
		{"Commit", func() error { return s.Commit(t.Context(), "a", cp("a2")) }},
		{"History", func() error { _, err := s.History(t.Context(), "a"); return err }},
	}
	for _, op := range ops {
		switch panicked, err := recoverCall(op.call); {
		case panicked != nil:
			t.Errorf("%s after Close panicked: %v", op.name, panicked)
		case err == nil:
			t.Errorf("%s after Close = nil, want an error", op.name)
		}
	}
	// A second Close may return an error, but must not panic.
	if panicked, _ := recoverCall(s.Close); panicked != nil {
		t.Errorf("second Close panicked: %v", panicked)
	}
	if got := load(t, e.open(5), "a"); got.Position != "a1" {
		t.Errorf("Load(a) after reopen = %q, want a1: a Commit after Close was stored", got.Position)
	}
}

// recoverCall calls fn, returning what it panicked with, if it did.
func recoverCall(fn func() error) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, fn()
}
