package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
)

// settle is how long a checkpoint must stay put to count as stuck: twenty
// checkpoint intervals of testConfig.
const settle = 100 * time.Millisecond

// guardCommits makes store fail the test if it is ever asked to commit a
// position whose transaction, or an earlier one, has a message the sink has
// not acked. lastSeq maps each position to the last sequence number of its
// transaction.
func guardCommits(t *testing.T, store *memStore, snks *sinks, lastSeq map[string]uint64) {
	store.onCommit = func(cp checkpoints.Checkpoint) error {
		upTo, ok := lastSeq[cp.Position]
		if !ok {
			t.Errorf("committed unknown position %q", cp.Position)
			return nil
		}
		for seq := uint64(1); seq <= upTo; seq++ {
			if !snks.attempt(0).isSettled(seq) {
				t.Errorf("committed %q while message %d is unacked", cp.Position, seq)
			}
		}
		return nil
	}
}

func TestCheckpointNeverPassesUnackedMessage(t *testing.T) {
	t.Parallel()
	// T1 holds message 1, T2 messages 2 and 3, T3 message 4.
	lastSeq := map[string]uint64{"T1": 1, "T2": 3, "T3": 4}
	type phase struct {
		ack  []uint64
		want string // committed position afterwards, "" for none
	}
	tests := []struct {
		name   string
		phases []phase
	}{
		{"T2 acked last", []phase{{nil, ""}, {[]uint64{1, 4}, "T1"}, {[]uint64{2, 3}, "T3"}}},
		{"T3 acked first", []phase{{[]uint64{4}, ""}, {[]uint64{1}, "T1"}, {[]uint64{2, 3}, "T3"}}},
		{"T2 half acked", []phase{{[]uint64{1, 4, 3}, "T1"}, {[]uint64{2}, "T3"}}},
		{"T2 acked twice", []phase{{[]uint64{1, 4, 2}, "T1"}, {[]uint64{2}, "T1"}, {[]uint64{3}, "T3"}}},
		{"all in order", []phase{{[]uint64{1}, "T1"}, {[]uint64{2, 3}, "T2"}, {[]uint64{4}, "T3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srcs := scripted(txn("T1", 1), txn("T2", 2, 3), txn("T3", 4))
			snks := &sinks{}
			store := &memStore{}
			guardCommits(t, store, snks, lastSeq)
			start(t, newPipeline(testConfig(), srcs, snks, store))

			eventually(t, "all four messages are written", func() bool {
				s := snks.attempt(0)
				return s != nil && s.written() == 4
			})
			for i, ph := range tt.phases {
				if len(ph.ack) > 0 {
					snks.attempt(0).Ack(ph.ack...)
				}
				at := fmt.Sprintf("phase %d: committed position is %q", i, ph.want)
				eventually(t, at, func() bool { return store.position() == ph.want })
				if i < len(tt.phases)-1 {
					consistently(t, at, settle, func() bool { return store.position() == ph.want })
				}
			}
			if got := store.positions(); !slices.IsSorted(got) {
				t.Errorf("committed positions %q went backwards", got)
			}
		})
	}
}

func TestEmptyTransactionAdvancesCheckpoint(t *testing.T) {
	t.Parallel()
	ddl := step{schema: &capture.SchemaChange{Database: "shop", Statement: "ALTER TABLE users ADD c int", Position: "T2"}}
	tests := []struct {
		name    string
		steps   []step
		lastSeq map[string]uint64
		stuck   string // committed position while messages are unacked
		want    string // committed position once all are acked
	}{
		{
			name:    "only filtered transactions",
			steps:   concat(txn("T1"), txn("T2")),
			lastSeq: map[string]uint64{"T1": 0, "T2": 0},
			stuck:   "T2", want: "T2",
		},
		{
			name:    "filtered transaction after an unacked one",
			steps:   concat(txn("T1", 1), txn("T2")),
			lastSeq: map[string]uint64{"T1": 1, "T2": 1},
			stuck:   "", want: "T2",
		},
		{
			name:    "filtered transactions between unacked ones",
			steps:   concat(txn("T1"), txn("T2", 1), txn("T3"), txn("T4")),
			lastSeq: map[string]uint64{"T1": 0, "T2": 1, "T3": 1, "T4": 1},
			stuck:   "T1", want: "T4",
		},
		{
			name:    "schema change",
			steps:   concat(txn("T1"), []step{ddl, commit("T2")}),
			lastSeq: map[string]uint64{"T1": 0, "T2": 0},
			stuck:   "T2", want: "T2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srcs := scripted(tt.steps)
			snks := &sinks{}
			store := &memStore{}
			guardCommits(t, store, snks, tt.lastSeq)
			start(t, newPipeline(testConfig(), srcs, snks, store))

			eventually(t, "the source played its script", func() bool {
				src := srcs.attempt(0)
				return src != nil && src.done()
			})
			eventually(t, "the checkpoint reaches "+tt.stuck, func() bool { return store.position() == tt.stuck })
			consistently(t, "the checkpoint stays at "+tt.stuck, settle, func() bool { return store.position() == tt.stuck })
			snks.attempt(0).AckAll()
			eventually(t, "the checkpoint reaches "+tt.want, func() bool { return store.position() == tt.want })
		})
	}
}

// BeforeCheckpoint (the TOAST cache's sync) runs before every checkpoint
// commit; while it fails nothing is committed.
func TestBeforeCheckpointRunsFirst(t *testing.T) {
	t.Parallel()
	// Every attempt replays the script from the start (the checkpoint
	// never moved).
	srcs := &sources{build: func(int) (capture.Source, error) {
		return &fakeSource{steps: concat(txn("T1", 1), txn("T2", 2))}, nil
	}}
	snks := &sinks{}
	store := &memStore{}
	var mu sync.Mutex
	syncs, failing := 0, true
	store.onCommit = func(cp checkpoints.Checkpoint) error {
		mu.Lock()
		defer mu.Unlock()
		if syncs == 0 || failing {
			t.Errorf("checkpoint %q committed without a successful BeforeCheckpoint first", cp.Position)
		}
		return nil
	}
	cfg := testConfig()
	cfg.BeforeCheckpoint = func() error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return errors.New("disk full")
		}
		syncs++
		return nil
	}
	start(t, newPipeline(cfg, srcs, snks, store))
	eventually(t, "both messages are written", func() bool {
		s := snks.attempt(0)
		return s != nil && s.written() == 2
	})
	snks.attempt(0).AckAll()
	// The failed commit ends the attempt; the restarts fail alike.
	consistently(t, "nothing is committed while BeforeCheckpoint fails", settle, func() bool { return store.position() == "" })
	mu.Lock()
	failing = false
	mu.Unlock()
	eventually(t, "the checkpoint reaches T2 once it succeeds", func() bool {
		for i := 0; snks.attempt(i) != nil; i++ {
			snks.attempt(i).AckAll()
		}
		return store.position() == "T2"
	})
}
