package progress

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func tables(rows []Row) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Source+" "+r.Table)
	}
	return s
}

func TestTrackerNext(t *testing.T) {
	t.Parallel()
	a := row("shop.a", 5, 10, time.Second, false)
	aDone := row("shop.a", 10, 10, time.Second, true)
	aAgain := row("shop.a", 10, 10, time.Millisecond, true) // a new snapshot of the table
	b := row("shop.b", 1, 10, time.Second, false)
	other := Row{Source: "billing", TableProgress: aDone.TableProgress}
	polls := []struct {
		name          string
		rows          []Row
		done, running []string
	}{
		{name: "running table gets a bar", rows: []Row{a}, running: []string{"crm shop.a"}},
		{name: "finished table printed once", rows: []Row{aDone}, done: []string{"crm shop.a"}},
		{name: "not twice", rows: []Row{aDone}},
		{name: "next table runs", rows: []Row{aDone, b}, running: []string{"crm shop.b"}},
		{name: "same table of another source", rows: []Row{aDone, other, b},
			done: []string{"billing shop.a"}, running: []string{"crm shop.b"}},
		{name: "resumed after done gets a bar again", rows: []Row{a, b}, running: []string{"crm shop.a", "crm shop.b"}},
		{name: "and is printed when done again", rows: []Row{aDone, b}, done: []string{"crm shop.a"}, running: []string{"crm shop.b"}},
		{name: "source between attempts", rows: nil},
		{name: "forgotten table printed again", rows: []Row{aDone}, done: []string{"crm shop.a"}},
		{name: "new snapshot of a table", rows: []Row{aDone, aAgain}, done: []string{"crm shop.a"}},
	}
	var tr Tracker
	for _, p := range polls {
		done, running := tr.Next(p.rows)
		if !slices.Equal(tables(done), p.done) || !slices.Equal(tables(running), p.running) {
			t.Errorf("%s: Next = done %q, running %q; want %q, %q", p.name, tables(done), tables(running), p.done, p.running)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running := row("shop.a", 5, 10, time.Second, false)
	done := row("shop.a", 10, 10, time.Second, true)
	polls := [][]Row{{running}, {running}, {done}, {done}, {done}}
	calls := 0
	poll := func() []Row {
		calls++
		if calls == len(polls) {
			cancel()
		}
		return polls[calls-1]
	}
	var out bytes.Buffer
	s := NewScreen(&out)
	Run(ctx, s, poll, func() int { return 100 }, time.Millisecond)

	got := out.String()
	if calls != len(polls) {
		t.Errorf("polled %d times, want %d", calls, len(polls))
	}
	if n := strings.Count(got, "crm shop.a [#"); n != 3 {
		t.Errorf("drew the table %d times, want 3 (two bars, one done line):\n%q", n, got)
	}
	if n := strings.Count(got, " done 10 rows"); n != 1 {
		t.Errorf("printed the done line %d times, want once:\n%q", n, got)
	}
	if s.drawn != 0 {
		t.Errorf("%d bars left drawn after Run returned", s.drawn)
	}
}

func TestRunErasesBarsOnStop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	poll := func() []Row { cancel(); return []Row{row("shop.a", 5, 10, time.Second, false)} }
	var out bytes.Buffer
	s := NewScreen(&out)
	Run(ctx, s, poll, func() int { return 100 }, time.Hour)
	if !strings.HasSuffix(out.String(), erase(1)) || s.drawn != 0 {
		t.Errorf("the bar was not erased on stop: %q", out.String())
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if IsTerminal(null) && runtime.GOOS != "windows" { // no size query there
		t.Errorf("%s is a terminal", os.DevNull)
	}
}

func TestWidthFallsBackToColumns(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("COLUMNS", "132")
	if got := Width(f); got != 132 {
		t.Errorf("Width with COLUMNS=132 = %d", got)
	}
	t.Setenv("COLUMNS", "")
	if got := Width(f); got != 80 {
		t.Errorf("Width without a terminal or COLUMNS = %d, want 80", got)
	}
}
