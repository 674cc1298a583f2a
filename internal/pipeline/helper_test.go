package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

// waitFor bounds every wait on the pipeline's goroutines.
const waitFor = 5 * time.Second

// testConfig is a pipeline configuration with timings small enough for tests.
func testConfig() Config {
	return Config{
		Source: "main", Connector: transform.ConnectorMySQL, TopicPrefix: "cdc",
		Tombstones: true, MaxInFlight: 1000,
		CheckpointInterval: 5 * time.Millisecond,
		RestartBackoffMin:  time.Millisecond, RestartBackoffMax: 5 * time.Millisecond,
		ShutdownTimeout: time.Second,
	}
}

var (
	usersTable = &capture.Table{Database: "shop", Name: "users", Key: []int{0},
		Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar(20)"}}}
	keylessTable = &capture.Table{Database: "shop", Name: "audit_log",
		Columns: []capture.Column{{Name: "msg", Type: "text"}}}
)

// step is one scripted item of a fake source's stream: exactly one field is set.
type step struct {
	change *capture.Change
	commit *capture.Commit
	schema *capture.SchemaChange
	err    error  // Stream returns it
	do     func() // runs on the stream goroutine
}

func rowChange(op capture.Op, pos string, id int64, before, after []any) step {
	return step{change: &capture.Change{Op: op, Table: usersTable, Before: before, After: after,
		Position: pos, EventPosition: fmt.Sprintf("%s/%d", pos, id), CommitTime: time.Unix(1700000000, 0)}}
}

func ins(pos string, id int64) step {
	return rowChange(capture.OpCreate, pos, id, nil, []any{id, "ann"})
}

func del(pos string, id int64) step {
	return rowChange(capture.OpDelete, pos, id, []any{id, "ann"}, nil)
}

// rekey is an update that moves a row from key id to key id+100.
func rekey(pos string, id int64) step {
	return rowChange(capture.OpUpdate, pos, id, []any{id, "ann"}, []any{id + 100, "ann"})
}

func commit(pos string) step {
	return step{commit: &capture.Commit{Position: pos, CommitTime: time.Unix(1700000000, 0)}}
}

// txn is a transaction of one insert per id, committed at pos.
func txn(pos string, ids ...int64) []step {
	var s []step
	for _, id := range ids {
		s = append(s, ins(pos, id))
	}
	return append(s, commit(pos))
}

func fail(err error) step { return step{err: err} }

func concat(parts ...[]step) []step {
	var s []step
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// fakeSource plays its steps into the handler, then blocks until ctx is
// done, as a connected source with nothing new to read does.
type fakeSource struct {
	steps []step
	// onStream, if set, runs when Stream is called; an error is returned.
	onStream func(ctx context.Context, from string) error

	mu      sync.Mutex
	from    string
	started bool

	entered   atomic.Int64 // handler calls begun
	delivered atomic.Int64 // handler calls returned nil
	changes   atomic.Int64 // Change calls returned nil
	closes    atomic.Int32
}

func (s *fakeSource) Stream(ctx context.Context, r capture.Resume, h capture.Handler) error {
	from := r.Position
	s.mu.Lock()
	s.from, s.started = from, true
	s.mu.Unlock()
	if s.onStream != nil {
		if err := s.onStream(ctx, from); err != nil {
			return err
		}
	}
	for _, st := range s.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch {
		case st.err != nil:
			return st.err
		case st.do != nil:
			st.do()
			continue
		case st.change != nil:
			s.entered.Add(1)
			if err = h.Change(ctx, st.change); err == nil {
				s.changes.Add(1)
			}
		case st.commit != nil:
			s.entered.Add(1)
			err = h.Commit(ctx, *st.commit)
		case st.schema != nil:
			s.entered.Add(1)
			err = h.Schema(ctx, *st.schema)
		}
		if err != nil {
			return err
		}
		s.delivered.Add(1)
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *fakeSource) Close() error { s.closes.Add(1); return nil }

// From reports the position Stream was called with, and whether it was.
func (s *fakeSource) From() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.from, s.started
}

// done reports whether every scripted handler call returned.
func (s *fakeSource) done() bool {
	n := 0
	for _, st := range s.steps {
		if st.change != nil || st.commit != nil || st.schema != nil {
			n++
		}
	}
	return s.delivered.Load() == int64(n)
}

// positionerSource is a fakeSource that can name the server's position.
type positionerSource struct {
	*fakeSource
	current func(ctx context.Context) (string, error)
	calls   atomic.Int32
}

var _ capture.Positioner = (*positionerSource)(nil)

func (s *positionerSource) CurrentPosition(ctx context.Context) (capture.Resume, error) {
	s.calls.Add(1)
	pos, err := s.current(ctx)
	return capture.Resume{Position: pos}, err
}

// sources is the pipeline's source factory; build makes the source of each
// attempt (numbered from 0).
type sources struct {
	build func(attempt int) (capture.Source, error)

	mu   sync.Mutex
	made []*fakeSource
}

func scripted(steps ...[]step) *sources {
	return &sources{build: func(attempt int) (capture.Source, error) {
		if attempt == 0 {
			return &fakeSource{steps: concat(steps...)}, nil
		}
		return &fakeSource{}, nil
	}}
}

func (s *sources) newSource() (capture.Source, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.build(len(s.made))
	var fs *fakeSource
	switch v := src.(type) {
	case *fakeSource:
		fs = v
	case *positionerSource:
		fs = v.fakeSource
	}
	s.made = append(s.made, fs) // nil for a failed attempt
	return src, err
}

func (s *sources) attempt(i int) *fakeSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.made) {
		return nil
	}
	return s.made[i]
}

// streamed reports the from position of attempt i's Stream, once called.
func (s *sources) streamed(i int) (string, bool) {
	if src := s.attempt(i); src != nil {
		return src.From()
	}
	return "", false
}

// fakeSink records written messages and leaves their fate to the test,
// which acks or fails them through the AckFunc the pipeline passed in.
type fakeSink struct {
	ackFn sink.AckFunc
	// onWrite, if set, runs after a write was recorded; its error is Write's.
	onWrite func(s *fakeSink, msgs []sink.Message) error
	// onFlush, if set, is Flush; by default Flush returns nil at once.
	onFlush func(ctx context.Context, s *fakeSink) error

	mu      sync.Mutex
	msgs    []sink.Message
	settled map[uint64]bool // acked or failed
	maxOpen int             // most written messages ever unsettled at once

	writes, flushes, closes atomic.Int32
}

func (s *fakeSink) Write(ctx context.Context, msgs []sink.Message) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, msgs...) // copies: the handler reuses its slice
	s.maxOpen = max(s.maxOpen, len(s.msgs)-len(s.settled))
	s.mu.Unlock()
	s.writes.Add(1)
	if s.onWrite != nil {
		return s.onWrite(s, msgs)
	}
	return nil
}

func (s *fakeSink) Flush(ctx context.Context) error {
	s.flushes.Add(1)
	if s.onFlush != nil {
		return s.onFlush(ctx, s)
	}
	return nil
}

func (s *fakeSink) Close() error { s.closes.Add(1); return nil }

// Messages returns a copy of every message written so far.
func (s *fakeSink) Messages() []sink.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sink.Message(nil), s.msgs...)
}

func (s *fakeSink) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Ack reports seqs as delivered. They are marked settled first, so a
// checkpoint the ack makes committable always finds them settled.
func (s *fakeSink) Ack(seqs ...uint64) { s.settle(seqs, nil) }

// Fail reports seqs as failed with err.
func (s *fakeSink) Fail(err error, seqs ...uint64) { s.settle(seqs, err) }

func (s *fakeSink) settle(seqs []uint64, err error) {
	s.mu.Lock()
	if s.settled == nil {
		s.settled = map[uint64]bool{}
	}
	for _, q := range seqs {
		s.settled[q] = true
	}
	s.mu.Unlock()
	s.ackFn(seqs, err)
}

// AckAll acks every written message not yet settled.
func (s *fakeSink) AckAll() {
	s.mu.Lock()
	var open []uint64
	for _, m := range s.msgs {
		if !s.settled[m.Seq] {
			open = append(open, m.Seq)
		}
	}
	s.mu.Unlock()
	if len(open) > 0 {
		s.Ack(open...)
	}
}

func (s *fakeSink) isSettled(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settled[seq]
}

func (s *fakeSink) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs) - len(s.settled)
}

func (s *fakeSink) maxUnsettled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxOpen
}

// ackOnWrite acks every message as it is written.
func ackOnWrite(s *fakeSink, msgs []sink.Message) error {
	s.Ack(seqs(msgs)...)
	return nil
}

func seqs(msgs []sink.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// sinks is the pipeline's sink factory; setup configures the sink of each
// attempt (numbered from 0) and may fail its creation.
type sinks struct {
	setup func(attempt int, s *fakeSink) error

	mu   sync.Mutex
	made []*fakeSink
}

func (f *sinks) newSink(ack sink.AckFunc) (sink.Sink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSink{ackFn: ack}
	n := len(f.made)
	f.made = append(f.made, s)
	if f.setup != nil {
		if err := f.setup(n, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (f *sinks) attempt(i int) *fakeSink {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.made) {
		return nil
	}
	return f.made[i]
}

// memStore is an in-memory checkpoints.Store.
type memStore struct {
	// onCommit, if set, runs before a commit is stored; its error is Commit's.
	onCommit func(cp checkpoints.Checkpoint) error

	mu      sync.Mutex
	history map[string][]checkpoints.Checkpoint // oldest first
}

func (m *memStore) Load(_ context.Context, source string) (checkpoints.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[source]
	if len(h) == 0 {
		return checkpoints.Checkpoint{}, checkpoints.ErrNotFound
	}
	return h[len(h)-1], nil
}

func (m *memStore) Commit(_ context.Context, source string, cp checkpoints.Checkpoint) error {
	if m.onCommit != nil {
		if err := m.onCommit(cp); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.history == nil {
		m.history = map[string][]checkpoints.Checkpoint{}
	}
	m.history[source] = append(m.history[source], cp)
	return nil
}

func (m *memStore) History(_ context.Context, source string) ([]checkpoints.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[source]
	out := make([]checkpoints.Checkpoint, len(h))
	for i, cp := range h {
		out[len(h)-1-i] = cp
	}
	return out, nil
}

func (m *memStore) Close() error { return nil }

// position is the committed position of source "main", "" for none.
func (m *memStore) position() string {
	cp, err := m.Load(context.Background(), "main")
	if err != nil {
		return ""
	}
	return cp.Position
}

// positions lists every committed position of source "main", oldest first.
func (m *memStore) positions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, cp := range m.history["main"] {
		out = append(out, cp.Position)
	}
	return out
}

// running is a pipeline whose Run executes on its own goroutine.
type running struct {
	p      *Pipeline
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start runs p until the test cancels it or Run returns; cleanup stops it.
func start(t *testing.T, p *Pipeline) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitFor):
			t.Errorf("Run did not return within %v of cancellation", waitFor)
		}
	})
	return r
}

// wait returns Run's error, failing the test if Run does not return in time.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitFor):
		t.Fatalf("Run did not return within %v", waitFor)
		return nil
	}
}

// stop cancels Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

func newPipeline(cfg Config, src *sources, snk *sinks, store *memStore) *Pipeline {
	return New(cfg, src.newSource, snk.newSink, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", waitFor, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// consistently checks that cond holds throughout d (several checkpoint
// intervals), failing the test as soon as it does not.
func consistently(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("expected %s throughout %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
}

var errKafka = errors.New("kafka: broker not available")
