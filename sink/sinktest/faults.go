package sinktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/sink"
)

// testOutageRiddenOut holds the destination unreachable for RideOut while
// messages are written: nothing may be acked meanwhile and Flush must not
// return nil; once the path heals, the sink's retries deliver everything,
// each key in order.
func testOutageRiddenOut(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	r, f := openFaulty(t, h)
	topic := h.NewTopic(t)
	// The path works before the outage.
	r.mustWrite(t, ctx, r.next(topic, 4, 20))
	r.mustFlush(t, ctx)

	heal := outage(t, f)
	held := r.next(topic, 4, 200)
	written := make(chan error, 1)
	go func() { written <- r.write(ctx, held) }()
	var werr error
	returned := false
	select {
	case werr = <-written:
		returned = true
		if werr != nil {
			t.Fatalf("Write during an outage: %v", werr)
		}
		fctx, cancel := context.WithTimeout(ctx, h.RideOut)
		err := r.s.Flush(fctx)
		cancel()
		if err == nil {
			t.Fatal("Flush returned nil during an outage, before the messages written in it were acked")
		}
	case <-time.After(h.RideOut):
		// Write waits for the destination: that is allowed too.
	}
	r.checkNotAcked(t, held, "during an outage")
	heal()
	if !returned {
		werr = <-written
	}
	if werr != nil {
		t.Fatalf("Write during an outage: %v", werr)
	}
	r.mustFlush(t, ctx)
	r.checkAcks(t, true, true)
	r.checkTopic(t, h, topic, deduplicated)
}

// testConnectionsReset drops every connection after each of several
// Writes: the sink must recover by itself and deliver everything, each key
// in order.
func testConnectionsReset(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	r, f := openFaulty(t, h)
	topic := h.NewTopic(t)
	r.mustWrite(t, ctx, r.next(topic, 4, 20))
	r.mustFlush(t, ctx)
	for range 5 {
		r.mustWrite(t, ctx, r.next(topic, 4, 100))
		f.Reset()
	}
	r.mustFlush(t, ctx)
	r.checkAcks(t, true, true)
	r.checkTopic(t, h, topic, deduplicated)
}

// testFuse keeps the destination unreachable until a message fails. From
// then on no later message of its key may be acked or land at the
// destination, not even once the path heals: later Writes fail (or wait),
// and batches queued behind the failed one must not go out.
func testFuse(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	r, f := openFaulty(t, h)
	topic := h.NewTopic(t)
	r.mustWrite(t, ctx, r.next(topic, 3, 30))
	r.mustFlush(t, ctx)

	heal := outage(t, f)
	// Several Writes, so that a sink that batches has batches queued
	// behind the one that fails first.
	for range 10 {
		if err := r.write(ctx, r.next(topic, 3, 60)); err != nil {
			break // the sink failed already
		}
	}
	testenv.Eventually(t, failWithin, "a message held up by the outage fails", r.anyFailed)

	later := r.next(topic, 3, 3)
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	err := r.write(wctx, later)
	returned := wctx.Err() == nil
	cancel()
	if err == nil {
		t.Error("Write after a message failed returned nil, want an error")
	} else if returned && h.CheckWriteErr != nil {
		h.CheckWriteErr(t, err, later)
	}

	heal()
	fctx, cancel := context.WithTimeout(ctx, failWithin)
	defer cancel()
	if err := r.s.Flush(fctx); fctx.Err() != nil {
		t.Fatalf("Flush did not return once the path healed: %v", err)
	}
	r.checkAcks(t, true, false)
	r.checkOKPrefix(t)
	r.checkTopic(t, h, topic, prefix)
}

// outage starts an outage and returns its heal, which also runs when the
// test ends, so a failing test leaves the path healed.
func outage(t *testing.T, f Fault) (heal func()) {
	heal = sync.OnceFunc(f.Outage())
	t.Cleanup(heal)
	return heal
}

// checkNotAcked fails the test if any of msgs was acked.
func (r *run) checkNotAcked(t *testing.T, msgs []sink.Message, when string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if r.acks[m.Seq] > 0 {
			t.Fatalf("seq %d (%s) was acked %s (error %v), before the destination could hold it", m.Seq, m.Describe, when, r.failed[m.Seq])
		}
	}
}
