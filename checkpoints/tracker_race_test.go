package checkpoints

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// TestTrackerConcurrent runs the pipeline shape under -race: one producer
// adding messages with backpressure, several partition goroutines acking
// batches in shuffled order, and a committer woken by Notify. The committed
// positions must strictly increase and end at the final boundary.
func TestTrackerConcurrent(t *testing.T) {
	t.Parallel()
	const (
		messages   = 20000
		partitions = 4
		txnSize    = 7
		limit      = 256
	)
	ctx := t.Context()
	tr := NewTracker()
	parts := make([]chan uint64, partitions)
	for i := range parts {
		parts[i] = make(chan uint64, limit)
	}

	var ackers sync.WaitGroup
	for i, ch := range parts {
		ackers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var batch []uint64
			for seq := range ch {
				batch = append(batch, seq)
				// Flush when idle too, or the producer, blocked in
				// WaitBelow, would wait for acks held in a batch.
				if len(batch) >= 16 || len(ch) == 0 {
					rng.Shuffle(len(batch), func(a, b int) { batch[a], batch[b] = batch[b], batch[a] })
					tr.Ack(batch)
					tr.Ack(batch[:1]) // duplicate
					batch = batch[:0]
				}
			}
		})
	}

	stop := make(chan struct{})
	var committed []int
	committer := make(chan struct{})
	go func() {
		defer close(committer)
		take := func() {
			if cp, ok := tr.Committable(); ok {
				n, err := strconv.Atoi(cp.Position)
				if err != nil {
					t.Errorf("position %q: %v", cp.Position, err)
				}
				committed = append(committed, n)
			}
		}
		for {
			select {
			case <-tr.Notify():
				take()
			case <-stop:
				take()
				return
			}
		}
	}()

	txn := 0
	for i := range messages {
		if err := tr.WaitBelow(ctx, limit, 0); err != nil {
			t.Fatalf("WaitBelow: %v", err)
		}
		seq := tr.Add(1)
		if n := tr.InFlight(); n > limit {
			t.Errorf("InFlight() = %d after WaitBelow(%d)", n, limit)
		}
		parts[seq%partitions] <- seq
		if i%txnSize == txnSize-1 {
			txn++
			tr.Boundary(Checkpoint{Position: strconv.Itoa(txn)})
			if txn%3 == 0 { // a transaction whose rows were all filtered out
				txn++
				tr.Boundary(Checkpoint{Position: strconv.Itoa(txn)})
			}
		}
	}
	txn++
	tr.Boundary(Checkpoint{Position: strconv.Itoa(txn)})
	for _, ch := range parts {
		close(ch)
	}
	ackers.Wait()
	close(stop)
	<-committer

	if n := tr.InFlight(); n != 0 {
		t.Errorf("InFlight() = %d after all acks, want 0", n)
	}
	if len(committed) == 0 {
		t.Fatal("nothing was committed")
	}
	for i := 1; i < len(committed); i++ {
		if committed[i] <= committed[i-1] {
			t.Fatalf("committed positions not increasing: %d after %d", committed[i], committed[i-1])
		}
	}
	if last := committed[len(committed)-1]; last != txn {
		t.Errorf("last committed = %d, want final boundary %d", last, txn)
	}
}
