package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// Store is the checkpoint store of a cluster member: the member's own
// store (Badger) stays durable locally, and every commit is also written
// to the checkpoint topic, which is the cluster's truth. A commit counts
// (returns nil, so the pipeline confirms it to the source) only once the
// topic write was acked by all in-sync replicas; it is refused before
// anything is written when the fence says the source is not this
// member's.
type Store struct {
	local      checkpoints.Store
	fence      Fence
	client     *kafka.Client
	writer     *kafka.Writer
	topic      string
	memberName string
	logger     *slog.Logger

	mu      sync.Mutex
	pending map[string]int // source → epoch of its record being written
}

// NewStore returns the cluster's checkpoint store over local. client reads
// the topic; writer writes it (synchronously, acks=all).
func NewStore(local checkpoints.Store, fence Fence, client *kafka.Client, writer *kafka.Writer, topic, memberName string, logger *slog.Logger) *Store {
	s := &Store{local: local, fence: fence, client: client, writer: writer, topic: topic, memberName: memberName,
		logger: logger.With("component", "cluster-checkpoints"), pending: map[string]int{}}
	next := writer.Transport
	if next == nil {
		next = kafka.DefaultTransport
	}
	writer.Transport = &gatedTransport{next: next, gate: s.gate}
	return s
}

// gatedTransport asks the fence once more right before a produce request
// leaves: a member frozen between write's check and the request (SIGSTOP,
// a long GC pause) must not send the record after it resumed, when its
// lease has lapsed and another member may own the source.
type gatedTransport struct {
	next kafka.RoundTripper
	gate func() error
}

func (g *gatedTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if req.ApiKey() == protocol.Produce {
		if err := g.gate(); err != nil {
			return nil, err
		}
	}
	return g.next.RoundTrip(ctx, addr, req)
}

// gate refuses a produce request while any record being written belongs
// to a source this member no longer owns under the record's epoch. One
// request may carry several sources' records; all are refused then (their
// commits fail and their pipelines retry), which only happens when the
// member is being fenced.
func (s *Store) gate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for source, epoch := range s.pending {
		e, err := s.fence.Check(source)
		if err != nil {
			return err
		}
		if e != epoch {
			return fmt.Errorf("source %s: %w: epoch %d is over (now %d)", source, ErrFenced, epoch, e)
		}
	}
	return nil
}

// Load returns the source's winning record in the topic. When the topic
// has none and the local store has a checkpoint (a daemon that ran alone
// before), that checkpoint is migrated: written to the topic once, under
// this member's epoch, and returned.
func (s *Store) Load(ctx context.Context, source string) (checkpoints.Checkpoint, error) {
	recs, err := ReadRecords(ctx, s.client, s.topic)
	if err != nil {
		return checkpoints.Checkpoint{}, err
	}
	if rec, ok := recs[source]; ok {
		s.logger.Info("resuming from the cluster checkpoint", "source", source, "position", rec.Position,
			"epoch", rec.Epoch, "written_by", rec.Member, "offset", rec.Offset)
		cp := checkpoints.Checkpoint{Position: rec.Position, Snapshot: rec.Snapshot, CommitTime: rec.CommitTime, SavedAt: rec.SavedAt}
		return cp, nil
	}
	cp, err := s.local.Load(ctx, source)
	if err != nil {
		return cp, err // ErrNotFound: a first start
	}
	if err := s.write(ctx, source, cp, "badger"); err != nil {
		return checkpoints.Checkpoint{}, fmt.Errorf("migrate the local checkpoint of %s into %s: %w", source, s.topic, err)
	}
	s.logger.Warn("migrated this daemon's own checkpoint into the cluster checkpoint topic (once: the topic had none for the source)",
		"source", source, "position", cp.Position, "topic", s.topic)
	return cp, nil
}

// Commit writes cp locally, then to the topic; see Store.
func (s *Store) Commit(ctx context.Context, source string, cp checkpoints.Checkpoint) error {
	if _, err := s.fence.Check(source); err != nil {
		return err
	}
	if err := s.local.Commit(ctx, source, cp); err != nil {
		return err
	}
	return s.write(ctx, source, cp, "")
}

func (s *Store) write(ctx context.Context, source string, cp checkpoints.Checkpoint, migratedFrom string) error {
	epoch, err := s.fence.Check(source) // again: the local commit may have taken a while
	if err != nil {
		return err
	}
	rec := Record{Source: source, Epoch: epoch, Member: s.fence.MemberID(), MemberName: s.memberName,
		Position: cp.Position, Snapshot: cp.Snapshot, CommitTime: cp.CommitTime, SavedAt: cp.SavedAt, MigratedFrom: migratedFrom}
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.pending[source] = epoch
	s.mu.Unlock()
	err = s.writer.WriteMessages(ctx, kafka.Message{Key: []byte(source), Value: value})
	s.mu.Lock()
	delete(s.pending, source)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write checkpoint of %s to %s: %w", source, s.topic, err)
	}
	return nil
}

// History is the local store's: the checkpoints this member committed.
func (s *Store) History(ctx context.Context, source string) ([]checkpoints.Checkpoint, error) {
	return s.local.History(ctx, source)
}

// Close closes the topic writer; the local store is its opener's to close.
func (s *Store) Close() error {
	return errors.Join(s.writer.Close())
}
