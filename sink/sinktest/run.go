package sinktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/sink"
)

// run is one sink under test: what was written to it and every ack it
// reported. Seqs rise across all its topics.
type run struct {
	s sink.Sink

	mu     sync.Mutex
	seq    uint64
	counts map[string]int          // messages generated per topic and key (see count)
	msgs   map[uint64]sink.Message // every message generated, by seq
	order  []uint64                // seqs in write order
	sent   map[uint64]bool         // handed over: their Write returned nil
	ok     map[uint64]int          // nil-error acks per seq
	failed map[uint64]error        // last error ack per seq
	acks   map[uint64]int          // acks of either kind per seq
}

func newRun() *run {
	return &run{
		counts: map[string]int{}, msgs: map[uint64]sink.Message{}, sent: map[uint64]bool{},
		ok: map[uint64]int{}, failed: map[uint64]error{}, acks: map[uint64]int{},
	}
}

// open builds a sink on r's ack func, closed when the test ends.
func open(t *testing.T, h Harness) *run {
	r := newRun()
	r.s = h.NewSink(t, r.ack)
	t.Cleanup(func() { r.s.Close() })
	return r
}

// openFaulty is open for a faulty sink.
func openFaulty(t *testing.T, h Harness) (*run, Fault) {
	r := newRun()
	var f Fault
	r.s, f = h.NewFaultySink(t, r.ack)
	t.Cleanup(func() { r.s.Close() })
	return r, f
}

// ack is the sink.AckFunc.
func (r *run) ack(seqs []uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range seqs {
		r.acks[s]++
		if err != nil {
			r.failed[s] = err
		} else {
			r.ok[s]++
		}
	}
}

// next returns n messages for topic, spread round-robin over keys
// key-000… (continuing where the last call for topic stopped). Each value
// names its key and its place among the key's messages, so the
// destination's contents can be checked against them.
func (r *run) next(topic string, keys, n int) []sink.Message {
	out := make([]sink.Message, 0, n)
	for range n {
		key := fmt.Sprintf("key-%03d", r.count(topic, "")%keys)
		out = append(out, r.message(topic, key, []byte(fmt.Sprintf("%s/%d", key, r.count(topic, key)))))
	}
	return out
}

// message returns one message for topic and key with the next seq.
func (r *run) message(topic, key string, value []byte) sink.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.counts[topic+"\x00"]++
	r.counts[topic+"\x00"+key]++
	m := sink.Message{Topic: topic, Key: []byte(key), Value: value, Seq: r.seq, Describe: "sinktest " + key}
	r.msgs[m.Seq] = m
	r.order = append(r.order, m.Seq)
	return m
}

// count is how many messages were generated for topic and key, or for
// the whole topic when key is "".
func (r *run) count(topic, key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[topic+"\x00"+key]
}

// write calls Write and records which messages were handed over.
func (r *run) write(ctx context.Context, msgs []sink.Message) error {
	err := r.s.Write(ctx, msgs)
	if err == nil {
		r.mu.Lock()
		for _, m := range msgs {
			r.sent[m.Seq] = true
		}
		r.mu.Unlock()
	}
	return err
}

// mustWrite is write failing the test on an error.
func (r *run) mustWrite(t *testing.T, ctx context.Context, msgs []sink.Message) {
	t.Helper()
	if err := r.write(ctx, msgs); err != nil {
		t.Fatalf("Write of %d messages: %v", len(msgs), err)
	}
}

// mustFlush calls Flush, failing the test on an error.
func (r *run) mustFlush(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := r.s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (r *run) anyFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failed) > 0
}

// checkAcks checks every ack so far: no seq acked twice or acked with both
// outcomes, none that was never written. With complete, every message
// handed over must have been acked, and with allOK, acked with nil.
func (r *run) checkAcks(t *testing.T, complete, allOK bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 5 {
			t.Errorf(format, args...)
		}
	}
	for seq, n := range r.acks {
		switch {
		case r.msgs[seq].Topic == "":
			report("seq %d was acked but never written", seq)
		case n > 1:
			report("seq %d was acked %d times (%d with nil, last error %v), want once", seq, n, r.ok[seq], r.failed[seq])
		}
	}
	for _, seq := range r.order {
		switch {
		case !r.sent[seq]:
		case complete && r.acks[seq] == 0:
			report("seq %d (%s) was never acked, want one ack once Flush returned", seq, r.msgs[seq].Describe)
		case allOK && r.failed[seq] != nil:
			report("seq %d (%s) failed: %v", seq, r.msgs[seq].Describe, r.failed[seq])
		}
	}
	if bad > 5 {
		t.Errorf("... %d problems with acks in all", bad)
	}
}

// checkOKPrefix checks the fuse on the acks: for each key, the seqs acked
// with nil are a prefix of the key's messages, so no message is acked
// after an earlier one of its key failed or went unacked.
func (r *run) checkOKPrefix(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	hole := map[string]uint64{} // topic and key → first seq not acked with nil
	for _, seq := range r.order {
		m := r.msgs[seq]
		k := m.Topic + "\x00" + string(m.Key)
		if first, ok := hole[k]; ok {
			if r.ok[seq] > 0 {
				t.Errorf("%s: seq %d was acked although the earlier seq %d of the key was not (error %v)", m.Key, seq, first, r.failed[first])
				return
			}
			continue
		}
		if r.ok[seq] == 0 {
			hole[k] = seq
		}
	}
}

// ctxFor returns a context ending after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
