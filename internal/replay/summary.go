package replay

import (
	"fmt"
	"io"
)

// Summary is what a replay sent.
type Summary struct {
	Source, Topic string
	ServerID      uint32
	From, To      string // the requested range
	Events        uint64 // events built (tombstones not counted)
	Tombstones    uint64 // null-value messages after deletes
	Transactions  uint64 // transactions with at least one event
	Written       uint64 // messages built for Kafka: events and tombstones
	Acked         uint64 // messages Kafka acknowledged
	// FirstEvent and LastEvent are the source.position of the first and
	// last replayed event (their transactions' starts); empty without events.
	FirstEvent, LastEvent string
	// End is the position of the last commit read: where the replay stopped.
	End string
}

func (s Summary) readUpTo() string {
	if s.End == "" {
		return s.From
	}
	return s.End
}

// Write prints the summary for an operator.
func (s Summary) Write(w io.Writer) error {
	first, last := s.FirstEvent, s.LastEvent
	if first == "" {
		first, last = "-", "-"
	}
	_, err := fmt.Fprintf(w, `replay of source %s into topic %s (server_id %d) done
  events:        %d (%d tombstones; %d messages acked)
  transactions:  %d
  binlog read:   %s to %s
  first event:   %s
  last event:    %s
`, s.Source, s.Topic, s.ServerID, s.Events, s.Tombstones, s.Acked, s.Transactions, s.From, s.End, first, last)
	return err
}
