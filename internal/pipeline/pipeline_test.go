package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/sink"
)

func TestRestartResumesFromCommittedCheckpoint(t *testing.T) {
	t.Parallel()
	// failSecondWrite acks the first write (T1) and fails the second (T2).
	failSecondWrite := func(s *fakeSink, msgs []sink.Message) error {
		if s.writes.Load() == 1 {
			s.Ack(seqs(msgs)...)
		} else {
			s.Fail(errKafka, seqs(msgs)...)
		}
		return nil
	}
	ackFirstWrite := func(s *fakeSink, msgs []sink.Message) error {
		if s.writes.Load() == 1 {
			s.Ack(seqs(msgs)...)
		}
		return nil
	}
	sourceGone := make(chan struct{})
	tests := []struct {
		name    string
		steps   []step
		cfg     func(*Config)
		onWrite func(s *fakeSink, msgs []sink.Message) error
		// trigger, if set, runs on the test goroutine once attempt 0 has
		// written want messages.
		written  int
		trigger  func(s *fakeSink)
		wantFrom string
	}{
		{
			name:     "sink fails inside Write",
			steps:    concat(txn("T1", 1), txn("T2", 2), txn("T3", 3)),
			onWrite:  failSecondWrite,
			wantFrom: "T1",
		},
		{
			name:     "sink fails from another goroutine",
			steps:    concat(txn("T1", 1), txn("T2", 2, 3)),
			onWrite:  ackFirstWrite,
			written:  3,
			trigger:  func(s *fakeSink) { s.Fail(errKafka, 3) },
			wantFrom: "T1",
		},
		{
			name:     "sink fails while the handler waits for acks",
			steps:    concat(txn("T1", 1), txn("T2", 2, 3)),
			cfg:      func(c *Config) { c.MaxInFlight = 1 },
			onWrite:  ackFirstWrite,
			written:  2,
			trigger:  func(s *fakeSink) { s.Fail(errKafka, 2) },
			wantFrom: "T1",
		},
		{
			name:     "source fails",
			steps:    concat(txn("T1", 1), txn("T2", 2), []step{fail(errors.New("connection reset"))}),
			onWrite:  ackOnWrite,
			wantFrom: "T2",
		},
		{
			// The sink's failure arrives while the attempt is already
			// ending for the source's own error.
			name: "sink fails as the source fails",
			steps: concat(txn("T1", 1), txn("T2", 2),
				[]step{{do: func() { close(sourceGone) }}, fail(errors.New("connection reset"))}),
			onWrite: func(s *fakeSink, msgs []sink.Message) error {
				if s.writes.Load() == 1 {
					s.Ack(seqs(msgs)...)
					return nil
				}
				go func() {
					<-sourceGone
					s.Fail(errKafka, seqs(msgs)...)
				}()
				return nil
			},
			wantFrom: "T1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			srcs := scripted(tt.steps)
			snks := &sinks{setup: func(attempt int, s *fakeSink) error {
				if attempt == 0 {
					s.onWrite = tt.onWrite
				}
				return nil
			}}
			store := &memStore{}
			r := start(t, newPipeline(cfg, srcs, snks, store))

			if tt.trigger != nil {
				eventually(t, fmt.Sprintf("attempt 0 wrote %d messages", tt.written), func() bool {
					s := snks.attempt(0)
					return s != nil && s.written() == tt.written
				})
				tt.trigger(snks.attempt(0))
			}
			eventually(t, "attempt 1 streams", func() bool { _, ok := srcs.streamed(1); return ok })
			if from, _ := srcs.streamed(1); from != tt.wantFrom {
				t.Errorf("attempt 1 streamed from %q, want %q", from, tt.wantFrom)
			}
			if got := store.position(); got != tt.wantFrom {
				t.Errorf("committed position %q, want %q", got, tt.wantFrom)
			}
			if got := r.p.Stats.Restarts.Load(); got != 1 {
				t.Errorf("Stats.Restarts = %d, want 1", got)
			}
			if src, snk := srcs.attempt(0), snks.attempt(0); src.closes.Load() != 1 || snk.closes.Load() != 1 {
				t.Errorf("attempt 0 closed its source %d times and its sink %d times, want once each",
					src.closes.Load(), snk.closes.Load())
			}
			if err := r.stop(t); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		})
	}
}

func TestPermanentErrorStopsRun(t *testing.T) {
	t.Parallel()
	purged := &capture.PermanentError{Err: errors.New("binlog.000001 was purged")}
	keyless := rowChange(capture.OpCreate, "T2", 1, nil, []any{"hello"})
	keyless.change.Table = keylessTable
	tests := []struct {
		name           string
		steps          []step
		sourceErr      error // from the source factory
		wantErr        string
		wantCheckpoint string
	}{
		{name: "from Stream", steps: []step{fail(purged)}, wantErr: "purged"},
		{name: "wrapped", steps: []step{fail(fmt.Errorf("binlog: %w", purged))}, wantErr: "binlog: binlog.000001 was purged"},
		{name: "table without key", steps: concat(txn("T1", 1), []step{keyless}), wantErr: "no primary key", wantCheckpoint: "T1"},
		{name: "from the source factory", sourceErr: purged, wantErr: "create source: binlog.000001 was purged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srcs := &sources{build: func(int) (capture.Source, error) {
				if tt.sourceErr != nil {
					return nil, tt.sourceErr
				}
				return &fakeSource{steps: tt.steps}, nil
			}}
			snks := &sinks{setup: func(_ int, s *fakeSink) error { s.onWrite = ackOnWrite; return nil }}
			store := &memStore{}
			r := start(t, newPipeline(testConfig(), srcs, snks, store))

			err := r.wait(t)
			var perr *capture.PermanentError
			if err == nil || !IsPermanent(err) || !errors.As(err, &perr) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want a permanent error containing %q", err, tt.wantErr)
			}
			if got := r.p.Stats.Restarts.Load(); got != 0 {
				t.Errorf("Stats.Restarts = %d, want 0", got)
			}
			if srcs.attempt(1) != nil || len(srcs.made) != 1 {
				t.Errorf("made %d sources, want 1", len(srcs.made))
			}
			if got := store.position(); got != tt.wantCheckpoint {
				t.Errorf("committed position %q, want %q", got, tt.wantCheckpoint)
			}
		})
	}
}

func TestFirstStartCommitsCurrentPosition(t *testing.T) {
	t.Parallel()
	errDown := errors.New("server is starting")
	tests := []struct {
		name        string
		stored      string // committed before Run, "" for none
		positioner  bool
		failFirst   bool // CurrentPosition fails on attempt 0
		wantFrom    string
		wantAttempt int // the attempt that streams
	}{
		{name: "positioner", positioner: true, wantFrom: "bin.5:4"},
		{name: "not a positioner", wantFrom: ""},
		{name: "checkpoint exists", stored: "bin.3:9", positioner: true, wantFrom: "bin.3:9"},
		{name: "position unavailable, then retried", positioner: true, failFirst: true, wantFrom: "bin.5:4", wantAttempt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := &memStore{}
			if tt.stored != "" {
				if err := store.Commit(context.Background(), "main", checkpoints.Checkpoint{Position: tt.stored}); err != nil {
					t.Fatal(err)
				}
			}
			var atStream []string // committed position when each Stream began
			var pos []*positionerSource
			srcs := &sources{build: func(attempt int) (capture.Source, error) {
				fs := &fakeSource{onStream: func(context.Context, string) error {
					atStream = append(atStream, store.position())
					return nil
				}}
				if !tt.positioner {
					return fs, nil
				}
				ps := &positionerSource{fakeSource: fs, current: func(context.Context) (string, error) {
					if tt.failFirst && attempt == 0 {
						return "", errDown
					}
					return "bin.5:4", nil
				}}
				pos = append(pos, ps)
				return ps, nil
			}}
			r := start(t, newPipeline(testConfig(), srcs, &sinks{}, store))

			eventually(t, fmt.Sprintf("attempt %d streams", tt.wantAttempt), func() bool {
				_, ok := srcs.streamed(tt.wantAttempt)
				return ok
			})
			from, _ := srcs.streamed(tt.wantAttempt)
			if from != tt.wantFrom {
				t.Errorf("Stream from %q, want %q", from, tt.wantFrom)
			}
			if err := r.stop(t); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
			// Run has returned: the factory's slices are no longer written.
			if len(atStream) != 1 || atStream[0] != tt.wantFrom {
				t.Errorf("committed position when Stream began = %q, want [%q]", atStream, tt.wantFrom)
			}
			if got := r.p.Stats.Restarts.Load(); got != uint64(tt.wantAttempt) {
				t.Errorf("Stats.Restarts = %d, want %d", got, tt.wantAttempt)
			}
			if tt.stored != "" && pos[0].calls.Load() != 0 {
				t.Errorf("CurrentPosition called with a checkpoint stored")
			}
		})
	}
}

func TestGracefulStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		steps   []step
		onFlush func(ctx context.Context, s *fakeSink) error
		want    string
	}{
		{
			name:    "flush acks in flight messages",
			steps:   concat(txn("T1", 1), txn("T2", 2)),
			onFlush: func(_ context.Context, s *fakeSink) error { s.AckAll(); return nil },
			want:    "T2",
		},
		{
			name:  "acks arrive from another goroutine during flush",
			steps: concat(txn("T1", 1), txn("T2", 2, 3)),
			onFlush: func(ctx context.Context, s *fakeSink) error {
				done := make(chan struct{})
				go func() { defer close(done); s.Ack(3); s.Ack(1); s.Ack(2) }()
				select {
				case <-done:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
			want: "T2",
		},
		{
			name:  "flush times out with a message unacked",
			steps: concat(txn("T1", 1), txn("T2", 2)),
			onFlush: func(ctx context.Context, s *fakeSink) error {
				s.Ack(1)
				<-ctx.Done()
				return ctx.Err()
			},
			want: "T1",
		},
		{
			name:    "stopped inside a transaction",
			steps:   concat(txn("T1", 1), []step{ins("T2", 2)}),
			onFlush: func(_ context.Context, s *fakeSink) error { s.AckAll(); return nil },
			want:    "T1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.ShutdownTimeout = settle
			srcs := scripted(tt.steps)
			snks := &sinks{setup: func(_ int, s *fakeSink) error { s.onFlush = tt.onFlush; return nil }}
			store := &memStore{}
			r := start(t, newPipeline(cfg, srcs, snks, store))

			eventually(t, "the source played its script", func() bool {
				src := srcs.attempt(0)
				return src != nil && src.done()
			})
			if got := store.position(); got != "" {
				t.Fatalf("committed %q before any ack", got)
			}
			if err := r.stop(t); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
			snk, src := snks.attempt(0), srcs.attempt(0)
			if got := snk.flushes.Load(); got != 1 {
				t.Errorf("sink flushed %d times, want 1", got)
			}
			if got := store.position(); got != tt.want {
				t.Errorf("final checkpoint %q, want %q", got, tt.want)
			}
			if cp, ok := r.p.Stats.Checkpoint(); !ok || cp.Position != tt.want {
				t.Errorf("Stats.Checkpoint() = %q, %v; want %q", cp.Position, ok, tt.want)
			}
			if snk.closes.Load() != 1 || src.closes.Load() != 1 {
				t.Errorf("closed sink %d and source %d times, want once each", snk.closes.Load(), src.closes.Load())
			}
			if got := r.p.Stats.Restarts.Load(); got != 0 {
				t.Errorf("Stats.Restarts = %d, want 0", got)
			}
		})
	}
}
