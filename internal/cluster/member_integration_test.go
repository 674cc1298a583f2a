package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// fakeAssignee records what a member runs.
type fakeAssignee struct {
	mu      sync.Mutex
	running map[string]bool
}

func (f *fakeAssignee) Acquire(s string) { f.mu.Lock(); f.running[s] = true; f.mu.Unlock() }
func (f *fakeAssignee) Release(ss []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range ss {
		delete(f.running, s)
	}
}

func (f *fakeAssignee) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for s := range f.running {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func startMember(t *testing.T, cfg Config, name string) (*Member, *fakeAssignee, context.CancelFunc) {
	t.Helper()
	cfg.Member = name
	a := &fakeAssignee{running: map[string]bool{}}
	client := NewClient(&kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}})
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMember(cfg, four, nil, client, a, nil, logger.With("member", name))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return m, a, stop
}

// Two members in process against the broker: the first takes all, the
// second half, and after the second leaves the first has all again.
func TestMembersSpreadAndHandBack(t *testing.T) {
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	cfg := Config{Group: testenv.UniqueName(t, "grp"), SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 6 * time.Second}
	_, a1, _ := startMember(t, cfg, "a")
	testenv.Eventually(t, 30*time.Second, "a alone owns all", func() bool { return len(a1.list()) == 4 })
	_, a2, stop2 := startMember(t, cfg, "b")
	testenv.Eventually(t, 30*time.Second, "a and b own two each", func() bool {
		return len(a1.list()) == 2 && len(a2.list()) == 2
	})
	stop2()
	testenv.Eventually(t, 30*time.Second, "a owns all again", func() bool { return len(a1.list()) == 4 })
}

// A member whose sources differ from the group's is refused and says which.
func TestMemberWithOtherSourcesIsRefused(t *testing.T) {
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	cfg := Config{Group: testenv.UniqueName(t, "grp"), Member: "a", SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 6 * time.Second}
	_, a1, _ := startMember(t, cfg, "a")
	testenv.Eventually(t, 30*time.Second, "a alone owns all", func() bool { return len(a1.list()) == 4 })

	cfg.Member = "odd"
	client := NewClient(&kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}})
	odd := NewMember(cfg, []string{"a", "b", "c", "x"}, nil, client, &fakeAssignee{running: map[string]bool{}}, nil,
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := odd.Run(ctx)
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "has x which the group has not") || !strings.Contains(err.Error(), "the group has d") {
		t.Fatalf("odd member: %v, want a refusal naming x and d", err)
	}
	testenv.Eventually(t, 30*time.Second, "a to keep all four", func() bool { return len(a1.list()) == 4 })
}
