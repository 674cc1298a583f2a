package mysql

import (
	"context"
	"strconv"

	"github.com/go-mysql-org/go-mysql/replication"
)

// payloadAt is where a MySQL 8 compressed transaction
// (binlog_transaction_compression=ON) lies in the binlog. Its inner events
// are not in the file on their own: a resume can only start before or
// after the whole payload, so every inner event is placed at the
// payload's start, told apart by its index inside it.
type payloadAt struct {
	start, end uint32
	index      int // of the inner event being handled
}

// compressed handles a TransactionPayloadEvent: the transaction's own
// events (BEGIN, table maps, rows, XID), which go-mysql has decompressed
// and parsed, go through the same handler as uncompressed ones.
func (st *streamState) compressed(ctx context.Context, hdr *replication.EventHeader, e *replication.TransactionPayloadEvent) error {
	st.payload = &payloadAt{start: hdr.LogPos - hdr.EventSize, end: hdr.LogPos}
	defer func() { st.payload = nil }()
	for i, inner := range e.Events {
		st.payload.index = i
		if err := st.handle(ctx, inner); err != nil {
			return err
		}
	}
	return nil
}

// startOf is the position of the event hdr describes (of its payload for
// an event inside a compressed transaction).
func (st *streamState) startOf(hdr *replication.EventHeader) Position {
	if st.payload != nil {
		return Position{File: st.file, Pos: st.payload.start}
	}
	return Position{File: st.file, Pos: hdr.LogPos - hdr.EventSize}
}

// endOf is the offset right after the event hdr describes (after its
// payload for an inner event).
func (st *streamState) endOf(hdr *replication.EventHeader) uint32 {
	if st.payload != nil {
		return st.payload.end
	}
	return hdr.LogPos
}

// eventName uniquely names the event hdr describes, for event ids:
// "file:pos", or "file:pos+i" for the i-th event inside a payload.
func (st *streamState) eventName(hdr *replication.EventHeader) string {
	s := st.startOf(hdr).String()
	if st.payload != nil {
		s += "+" + strconv.Itoa(st.payload.index)
	}
	return s
}
