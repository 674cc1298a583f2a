package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/checkpoints"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// fakeFence owns what is in owned, at its epoch.
type fakeFence struct{ owned map[string]int }

func (f fakeFence) Check(s string) (int, error) {
	if e, ok := f.owned[s]; ok {
		return e, nil
	}
	return 0, ErrFenced
}
func (f fakeFence) MemberID() string { return "member-1" }

func newTestStore(t *testing.T, fence Fence) (*Store, checkpoints.Store, string, *kafka.Client) {
	t.Helper()
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	local, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	transport := &kafka.Transport{}
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: transport, Timeout: 10 * time.Second}
	topic := testenv.UniqueName(t, "cp")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopic(ctx, client, topic, 1); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(testenv.KafkaAddr()), Topic: topic, Transport: transport, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, MaxAttempts: 3}
	s := NewStore(local, fence, client, w, topic, "m", slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { s.Close() })
	return s, local, topic, client
}

// A single daemon's checkpoint is migrated into the topic once; after that
// the topic wins, the highest epoch first; a fenced commit writes nothing.
func TestStoreMigratesOnceAndHighestEpochWins(t *testing.T) {
	ctx := context.Background()
	s, local, topic, client := newTestStore(t, fakeFence{owned: map[string]int{"a": 5}})
	if err := local.Commit(ctx, "a", checkpoints.Checkpoint{Position: "old-1", SavedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cp, err := s.Load(ctx, "a")
	if err != nil || cp.Position != "old-1" {
		t.Fatalf("load = %+v, %v; want the migrated old-1", cp, err)
	}
	recs, err := ReadRecords(ctx, client, topic)
	if err != nil || recs["a"].MigratedFrom != "badger" || recs["a"].Epoch != 5 {
		t.Fatalf("topic after migration = %+v, %v", recs, err)
	}
	if err := s.Commit(ctx, "a", checkpoints.Checkpoint{Position: "p2", Snapshot: "snapshot-work"}); err != nil {
		t.Fatal(err)
	}
	// An older epoch written later (a zombie's) does not win.
	zombie, _, _, _ := newTestStore(t, fakeFence{owned: map[string]int{"a": 3}})
	zombie.topic, zombie.client = topic, client
	zombie.writer = &kafka.Writer{Addr: kafka.TCP(testenv.KafkaAddr()), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := zombie.Commit(ctx, "a", checkpoints.Checkpoint{Position: "zombie"}); err != nil {
		t.Fatal(err)
	}
	if err := local.Commit(ctx, "a", checkpoints.Checkpoint{Position: "local-newer"}); err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Load(ctx, "a"); err != nil || cp.Position != "p2" || cp.Snapshot != "snapshot-work" {
		t.Fatalf("load = %+v, %v; want p2 with its snapshot work (epoch 5 beats the later epoch 3, the topic beats Badger)", cp, err)
	}
	// Not owned: nothing is written.
	if err := s.Commit(ctx, "b", checkpoints.Checkpoint{Position: "x"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced commit: %v", err)
	}
	if _, err := local.Load(ctx, "b"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Fatalf("a fenced commit reached Badger: %v", err)
	}
	if _, err := s.Load(ctx, "b"); !errors.Is(err, checkpoints.ErrNotFound) {
		t.Fatalf("load of a source never committed: %v", err)
	}
}

// lapsingFence owns source at epoch 1 for its first checks, then never.
type lapsingFence struct {
	source string
	checks atomic.Int32
	allow  int32
}

func (f *lapsingFence) Check(s string) (int, error) {
	if s == f.source && f.checks.Add(1) <= f.allow {
		return 1, nil
	}
	return 0, ErrFenced
}
func (f *lapsingFence) MemberID() string { return "member-1" }

// A member whose lease lapses after Commit checked the fence but before the
// record left (frozen in between) sends nothing: the produce request asks
// the fence again.
func TestStoreAsksTheFenceRightBeforeTheWrite(t *testing.T) {
	ctx := context.Background()
	fence := &lapsingFence{source: "a", allow: 2} // Commit's check and write's
	s, _, topic, client := newTestStore(t, fence)
	if err := s.Commit(ctx, "a", checkpoints.Checkpoint{Position: "late"}); err == nil {
		t.Fatal("a commit whose lease lapsed before the request left was written")
	}
	if fence.checks.Load() < 3 {
		t.Fatalf("the fence was asked %d times, not again before the produce request", fence.checks.Load())
	}
	if recs, err := ReadRecords(ctx, client, topic); err != nil || len(recs) != 0 {
		t.Fatalf("topic after a lapsed commit = %+v, %v; want nothing", recs, err)
	}
}

// An existing checkpoint topic with cleanup.policy=delete is refused.
func TestEnsureTopicRefusesUncompacted(t *testing.T) {
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}, Timeout: 10 * time.Second}
	topic := testenv.UniqueName(t, "cpdel")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil || res.Errors[topic] != nil {
		t.Fatalf("create %s: %v %v", topic, err, res)
	}
	err = EnsureTopic(ctx, client, topic, 1)
	if err == nil || !strings.Contains(err.Error(), "not compact") || !strings.Contains(err.Error(), "cluster.checkpoint_topic") {
		t.Fatalf("EnsureTopic of a delete-policy topic: %v", err)
	}
}
