package checkpoints

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTrackerMatchesModel drives a Tracker and the naive model with the same
// random operations (including duplicate, unknown and out-of-order acks and
// empty transactions) and requires identical answers at every step.
func TestTrackerMatchesModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		seed  uint64
		steps int
		// maxAck bounds how far past the newest seq an ack may point, to
		// exercise unknown sequence numbers.
		maxAck uint64
	}{
		{name: "short", seed: 1, steps: 200, maxAck: 2},
		{name: "long", seed: 2, steps: 5000, maxAck: 3},
		{name: "many unknown acks", seed: 3, steps: 2000, maxAck: 20},
		{name: "other seed", seed: 42, steps: 5000, maxAck: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(tt.seed, tt.seed))
			tr, m := NewTracker(), newModel()
			for step := range tt.steps {
				switch r := rng.IntN(100); {
				case r < 40:
					if got, want := tr.Add(1), m.add(); got != want {
						t.Fatalf("step %d: Add() = %d, want %d", step, got, want)
					}
				case r < 55:
					cp := Checkpoint{Position: fmt.Sprint(step)}
					tr.Boundary(cp)
					m.boundary(cp)
				case r < 85:
					seqs := make([]uint64, 1+rng.IntN(4))
					for i := range seqs {
						seqs[i] = rng.Uint64N(m.added + tt.maxAck + 1)
					}
					tr.Ack(seqs)
					m.ack(seqs)
				default:
					var signalled bool
					select {
					case <-tr.Notify():
						signalled = true
					default:
					}
					got, gotOK := tr.Committable()
					want, wantOK := m.committable()
					if got != want || gotOK != wantOK {
						t.Fatalf("step %d: Committable() = %q, %v; want %q, %v",
							step, got.Position, gotOK, want.Position, wantOK)
					}
					// Used from one goroutine, a signal is pending exactly
					// when something is committable.
					if signalled != wantOK {
						t.Fatalf("step %d: Notify signalled = %v, committable = %v", step, signalled, wantOK)
					}
				}
				if got, want := tr.InFlight(), m.inFlight(); got != want {
					t.Fatalf("step %d: InFlight() = %d, want %d", step, got, want)
				}
			}
		})
	}
}
