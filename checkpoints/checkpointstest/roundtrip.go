package checkpointstest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// testRoundTrip commits positions of many shapes and loads them back.
func testRoundTrip(t *testing.T, h Harness) {
	hourAgo := epoch.Add(-time.Hour)
	tests := []struct {
		name       string
		position   string
		snapshot   string
		commitTime time.Time
	}{
		{name: "with snapshot work", position: "mysql-bin.000042:1337", snapshot: "eyJpZCI6InMxIn0", commitTime: hourAgo},
		{name: "binlog file and offset", position: "mysql-bin.000042:1337", commitTime: hourAgo},
		{name: "gtid set", position: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,4F22FA47-71CA-11E1-9E33-C80AA9429562:1-9", commitTime: hourAgo},
		{name: "empty position", position: "", commitTime: hourAgo},
		{name: "unicode", position: "lsn/0/16B3748 ☃", commitTime: hourAgo},
		{name: "70 KiB", position: strings.Repeat("g", 70<<10), commitTime: hourAgo},
		{name: "one mebibyte", position: strings.Repeat("m", 1<<20), commitTime: hourAgo},
		{name: "zero commit time", position: "p", commitTime: time.Time{}},
		{
			name:       "commit time with nanoseconds and a zone",
			position:   "p",
			commitTime: time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("IST", 5*3600+1800)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h)
			s := e.open(5)
			want := checkpoints.Checkpoint{Position: tt.position, Snapshot: tt.snapshot, CommitTime: tt.commitTime, SavedAt: callerSavedAt}
			before := e.clock.calls()
			if err := s.Commit(t.Context(), "src", want); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			after := e.clock.calls()
			got := load(t, s, "src")
			if got.Position != want.Position {
				t.Errorf("Load() position = %q (%d bytes), want %q (%d bytes)",
					short(got.Position), len(got.Position), short(want.Position), len(want.Position))
			}
			if got.Snapshot != want.Snapshot {
				t.Errorf("Load() snapshot = %q, want %q", got.Snapshot, want.Snapshot)
			}
			if !got.CommitTime.Equal(want.CommitTime) {
				t.Errorf("Load() commit time = %s, want %s", got.CommitTime, want.CommitTime)
			}
			if !e.clock.returned(got.SavedAt, before, after) {
				t.Errorf("SavedAt = %s, want a time the store clock returned during Commit (%s to %s), not the caller's %s",
					got.SavedAt, tick(before+1), tick(after), callerSavedAt)
			}
			if hist := history(t, s, "src"); len(hist) != 1 || !same(hist[0], got) {
				t.Errorf("History() = %d entries, want exactly the loaded checkpoint", len(hist))
			}
		})
	}
}

// testUnknownSource reads a source that was never committed.
func testUnknownSource(t *testing.T, h Harness) {
	s := newEnv(t, h).open(5)
	if _, err := s.Load(t.Context(), "missing"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Errorf("Load(missing) on an empty store = %v, want ErrNotFound", err)
	}
	commitAll(t, s, "other", "p1")
	if _, err := s.Load(t.Context(), "missing"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Errorf("Load(missing) = %v, want ErrNotFound", err)
	}
	if hist, err := s.History(t.Context(), "missing"); err != nil || len(hist) != 0 {
		t.Errorf("History(missing) = %v, %v; want empty, nil", positions(hist), err)
	}
}

// testPrefixSourceIsolated checks that a source whose name is a prefix of
// another's, or has another's as a prefix, sees nothing of it.
func testPrefixSourceIsolated(t *testing.T, h Harness) {
	s := newEnv(t, h).open(5)
	commitAll(t, s, "src-2", "q1", "q2")
	for _, src := range []string{"src", "src-", "s"} {
		if _, err := s.Load(t.Context(), src); !errors.Is(err, checkpoints.ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", src, err)
		}
		if hist, err := s.History(t.Context(), src); err != nil || len(hist) != 0 {
			t.Errorf("History(%q) = %v, %v; want empty, nil", src, positions(hist), err)
		}
	}
	commitAll(t, s, "src", "p1")
	commitAll(t, s, "src-2-x", "x1")
	if got := load(t, s, "src"); got.Position != "p1" {
		t.Errorf("Load(src) = %q, want p1", got.Position)
	}
	if got := load(t, s, "src-2"); got.Position != "q2" {
		t.Errorf("Load(src-2) = %q, want q2", got.Position)
	}
	wantHistory(t, s, "src", "p1")
	wantHistory(t, s, "src-2", "q2", "q1")
	wantHistory(t, s, "src-2-x", "x1")
}
