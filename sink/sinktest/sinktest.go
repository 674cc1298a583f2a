// Package sinktest is the conformance suite every sink.Sink implementation
// must pass. An implementation's tests call Run with a Harness that builds
// its sinks, reads back what its destination holds and breaks the path to
// it; Run checks the contract of sink.Sink and sink.AckFunc against the
// real destination:
//
//   - every written message is acked exactly once, with a nil error only
//     once the destination holds it, and appears there;
//   - each key's messages arrive in write order, also through retries after
//     a transient fault (duplicates from retries are allowed: delivery is
//     at-least-once, and a consumer de-duplicates);
//   - once a message failed, no later message of its key is acked or lands
//     at the destination (the fuse): later Writes fail or wait;
//   - Flush returns only after every written message was acked or failed;
//   - Close after Flush is clean, Close twice is safe, Write after Close
//     fails;
//   - a nil Value (tombstone) is delivered as one.
package sinktest

import (
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/sink"
)

// Record is one message as the destination holds it.
type Record struct {
	Key   []byte
	Value []byte // nil for a tombstone
}

// Harness is what an implementation supplies to Run. Run closes every sink
// the harness returns when the subtest that asked for it ends.
type Harness struct {
	// NewSink returns a sink reporting every outcome to ack.
	NewSink func(t *testing.T, ack sink.AckFunc) sink.Sink
	// NewTopic returns a destination name no other test uses; the sink
	// must accept messages for it (creating it if need be).
	NewTopic func(t *testing.T) string
	// Read returns every message topic holds now, each key's messages in
	// the order the destination keeps them. Run calls it only after the
	// sink acked or failed everything written, so Read need not wait for
	// more messages to arrive.
	Read func(t *testing.T, topic string) []Record

	// NewFaultySink is NewSink for a sink whose path to its destinations
	// the returned Fault breaks. Run uses one at a time, so a harness may
	// share one fault injector (a proxy on a fixed address) between them.
	// The sink must ride out an outage of RideOut, and must fail the
	// messages an outage holds up within 20 seconds.
	NewFaultySink func(t *testing.T, ack sink.AckFunc) (sink.Sink, Fault)
	// RideOut is an outage the faulty sink survives by retrying: it acks
	// nothing during it and delivers everything once the path heals.
	RideOut time.Duration

	// CheckWriteErr, if set, checks an error Write returned because the
	// sink had failed (its wording, whether it is marked retryable); msgs
	// are that Write's messages.
	CheckWriteErr func(t *testing.T, err error, msgs []sink.Message)
}

// Fault breaks the path between a faulty sink and its destinations.
type Fault struct {
	// Reset drops every connection at once; new ones go through.
	Reset func()
	// Outage makes the destinations unreachable (nothing sent arrives,
	// nothing is answered) until heal is called. heal discards whatever
	// was sent meanwhile.
	Outage func() (heal func())
}

// failWithin bounds how long a faulty sink may hold a message up in an
// outage before failing it (see Harness.NewFaultySink).
const failWithin = 20 * time.Second

// Run runs the suite against h, one subtest per behaviour. The fault
// subtests run one after another, in parallel with the others.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewSink == nil || h.NewTopic == nil || h.Read == nil || h.NewFaultySink == nil || h.RideOut <= 0 {
		t.Fatal("sinktest: Harness needs NewSink, NewTopic, Read, NewFaultySink and a positive RideOut")
	}
	t.Run("delivery", func(t *testing.T) { t.Parallel(); testDelivery(t, h) })
	t.Run("tombstones", func(t *testing.T) { t.Parallel(); testTombstones(t, h) })
	t.Run("lifecycle", func(t *testing.T) { t.Parallel(); testLifecycle(t, h) })
	t.Run("faults", func(t *testing.T) {
		t.Parallel()
		t.Run("outage ridden out", func(t *testing.T) { testOutageRiddenOut(t, h) })
		t.Run("connections reset", func(t *testing.T) { testConnectionsReset(t, h) })
		t.Run("failed batch blows the fuse", func(t *testing.T) { testFuse(t, h) })
	})
}
