package capturetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// event is one handler call: a change or a commit.
type event struct {
	change *capture.Change
	commit *capture.Commit
}

// recorder is a capture.Handler that keeps every call in order.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Change(_ context.Context, c *capture.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{change: c})
	return nil
}

func (r *recorder) Commit(_ context.Context, c capture.Commit) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{commit: &c})
	return nil
}

func (r *recorder) Schema(context.Context, capture.SchemaChange) error { return nil }

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

// rows are the recorded changes of table as "op key before→after" lines.
func (r *recorder) rows(table string) []string {
	var out []string
	for _, e := range r.all() {
		if e.change != nil && e.change.Table.Name == table {
			out = append(out, describe(e.change))
		}
	}
	return out
}

// changes are the recorded changes of table.
func (r *recorder) changes(table string) []*capture.Change {
	var out []*capture.Change
	for _, e := range r.all() {
		if e.change != nil && e.change.Table.Name == table {
			out = append(out, e.change)
		}
	}
	return out
}

// eventID is what names a change downstream (the event id): the source
// event holding the row, the row inside it, and its transaction.
func eventID(c *capture.Change) string {
	return fmt.Sprintf("%s/%d tx %s", c.EventPosition, c.RowIndex, c.TxID)
}

// describe is a change as text: op, then the before and after images.
func describe(c *capture.Change) string {
	img := func(v []any) string {
		if v == nil {
			return "-"
		}
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return "(" + strings.Join(parts, ",") + ")"
	}
	return fmt.Sprintf("%s %s %s→%s", c.Table.Name, c.Op, img(c.Before), img(c.After))
}

// stream is a running Stream call.
type stream struct {
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// start runs src.Stream from from until the test ends.
func start(t *testing.T, src capture.Source, from capture.Resume) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{rec: &recorder{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- src.Stream(ctx, from, s.rec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Errorf("Stream did not return within 15s of its cancellation")
		}
		src.Close()
	})
	return s
}

// stop cancels the stream and waits for it to return (a PostgreSQL slot
// serves one stream at a time, so a resume must wait for it).
func (s *stream) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(15 * time.Second):
		t.Fatalf("Stream did not return within 15s of its cancellation")
	}
}

// failed returns Stream's error if it already returned.
func (s *stream) failed() error {
	select {
	case err := <-s.done:
		s.done <- err // keep it for cleanup and later calls
		if err == nil {
			return fmt.Errorf("Stream returned nil before its cancellation")
		}
		return err
	default:
		return nil
	}
}

// waitRows waits until table has n recorded changes and returns them.
func (s *stream) waitRows(t *testing.T, table string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows := s.rec.rows(table)
		if len(rows) >= n {
			return rows
		}
		if err := s.failed(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d changes of %s within 60s, want %d: %q", len(rows), table, n, rows)
		}
		time.Sleep(20 * time.Millisecond) // polling, with a deadline
	}
}

// waitCommitAfter waits for a Commit after the last change of table and
// returns all events recorded so far.
func (s *stream) waitCommitAfter(t *testing.T, table string, n int) []event {
	t.Helper()
	s.waitRows(t, table, n)
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := s.rec.all()
		last := -1
		for i, e := range evs {
			if e.change != nil && e.change.Table.Name == table {
				last = i
			}
		}
		for _, e := range evs[last+1:] {
			if e.commit != nil {
				return evs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Commit after the last change of %s within 30s", table)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exec runs statements in order on the target's single connection.
func exec(t *testing.T, tg *Target, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := tg.DB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
