package pipeline

import (
	"testing"
	"time"
)

func TestStallDetector(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const after = 2 * time.Minute
	type step struct {
		at         time.Duration
		checkpoint string
		lagBytes   int64
		want       bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"idle: the server wrote nothing past the checkpoint", []step{
			{0, "a", 0, false}, {3 * time.Minute, "a", 0, false}, {10 * time.Minute, "a", 0, false}}},
		{"busy: the checkpoint keeps moving", []step{
			{0, "a", 500, false}, {time.Minute, "b", 700, false}, {2 * time.Minute, "c", 900, false}, {5 * time.Minute, "d", 100, false}}},
		{"stalled: past the same checkpoint for stall_after", []step{
			{0, "a", 500, false}, {time.Minute, "a", 900, false}, {2 * time.Minute, "a", 1500, true}, {3 * time.Minute, "a", 1500, true}}},
		{"recovers when the checkpoint moves", []step{
			{0, "a", 500, false}, {3 * time.Minute, "a", 900, true}, {4 * time.Minute, "b", 400, false}, {5 * time.Minute, "b", 0, false}}},
		{"the clock starts when the server first is past it", []step{
			{0, "a", 0, false}, {5 * time.Minute, "a", 10, false}, {6 * time.Minute, "a", 20, false}, {7 * time.Minute, "a", 30, true}}},
	}
	for _, tt := range tests {
		var d stallDetector
		for i, s := range tt.steps {
			if got := d.observe(s.checkpoint, s.lagBytes, t0.Add(s.at), after); got != s.want {
				t.Errorf("%s, step %d (%s, %s, %d bytes): stalled %v, want %v", tt.name, i, s.at, s.checkpoint, s.lagBytes, got, s.want)
			}
		}
	}
}
