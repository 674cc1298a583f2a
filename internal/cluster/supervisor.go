package cluster

import (
	"context"
	"log/slog"
	"sync"
)

// Supervisor is the Assignee that runs each acquired source with run on a
// context of its own, cancelled by Release. run is expected to stop
// gracefully (flush, commit) when its context is cancelled.
type Supervisor struct {
	run    func(ctx context.Context, source string) error
	logger *slog.Logger

	mu      sync.Mutex
	running map[string]*task
}

type task struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSupervisor returns a supervisor of run.
func NewSupervisor(run func(ctx context.Context, source string) error, logger *slog.Logger) *Supervisor {
	return &Supervisor{run: run, logger: logger, running: map[string]*task{}}
}

// Acquire implements Assignee.
func (s *Supervisor) Acquire(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[source]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &task{cancel: cancel, done: make(chan struct{})}
	s.running[source] = t
	go func() {
		defer close(t.done)
		if err := s.run(ctx, source); err != nil {
			// A permanent failure stops only this source, as without a
			// cluster; the member keeps owning it so nobody else retries.
			s.logger.Error("cluster: source stopped", "source", source, "err", err)
		}
	}()
}

// Release implements Assignee.
func (s *Supervisor) Release(sources []string) {
	var wait []*task
	s.mu.Lock()
	for _, src := range sources {
		if t, ok := s.running[src]; ok {
			t.cancel()
			wait = append(wait, t)
			delete(s.running, src)
		}
	}
	s.mu.Unlock()
	for _, t := range wait {
		<-t.done
	}
}

// Running lists the sources running now.
func (s *Supervisor) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.running))
	for src := range s.running {
		out = append(out, src)
	}
	return out
}
