// Package sink defines where canonical events go. A sink writes
// asynchronously and reports each message's outcome through a callback.
package sink

import "context"

// Message is one encoded event bound for a topic.
type Message struct {
	Topic string
	Key   []byte // nil for none
	Value []byte // nil is a tombstone
	// Seq is the pipeline's sequence number for this message; acks report it.
	Seq uint64
	// Describe is used in errors about this message (table, key), never values.
	Describe string
}

// AckFunc is called once per message when the sink knows its fate: err nil
// means durably acked. It may be called from any goroutine.
type AckFunc func(seqs []uint64, err error)

// Sink delivers messages. Write may block for backpressure; it returns an
// error when the sink can no longer accept messages.
type Sink interface {
	Write(ctx context.Context, msgs []Message) error
	// Flush waits until every written message has been acked or failed.
	Flush(ctx context.Context) error
	Close() error
}
