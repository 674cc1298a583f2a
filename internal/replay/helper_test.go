package replay

import (
	"context"
	"errors"
	"fmt"
	"github.com/tributary-cdc/tributary/internal/encode"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/sink"
	"github.com/tributary-cdc/tributary/transform"
)

var usersTable = &capture.Table{Database: "shop", Name: "users", Key: []int{0},
	Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar(20)"}}}

// step is one scripted item of a fake source's stream: one field is set.
type step struct {
	change *capture.Change
	commit *capture.Commit
}

// txn is a transaction starting at start and committing at end, with one
// change per op: "c", "u" or "d" on key ids[i].
func txn(start, end string, ops string, ids ...int64) []step {
	var s []step
	for i, op := range ops {
		id := ids[i]
		c := &capture.Change{Op: capture.Op(string(op)), Table: usersTable, Position: start,
			EventPosition: fmt.Sprintf("%s+%d", start, i), CommitTime: time.Unix(1700000000, 0)}
		switch op {
		case 'c':
			c.After = []any{id, "ann"}
		case 'u':
			c.Before, c.After = []any{id, "ann"}, []any{id, "bob"}
		case 'd':
			c.Before = []any{id, "ann"}
		}
		s = append(s, step{change: c})
	}
	return append(s, step{commit: &capture.Commit{Position: end}})
}

// fakeSource plays its steps from the first whose transaction starts at
// `from`, like a binlog read from a transaction boundary, then blocks until
// ctx ends (a live stream waiting for more).
type fakeSource struct {
	steps []step
	from  string // what Stream was called with
}

func (f *fakeSource) Stream(ctx context.Context, r capture.Resume, h capture.Handler) error {
	from := r.Position
	f.from = from
	started := false
	prev := ""
	for _, s := range f.steps {
		if !started {
			started = prev == from || (s.change != nil && s.change.Position == from)
		}
		if s.commit != nil {
			prev = s.commit.Position
		}
		if !started {
			continue
		}
		var err error
		if s.change != nil {
			err = h.Change(ctx, s.change)
		} else {
			err = h.Commit(ctx, *s.commit)
		}
		if err != nil {
			return fmt.Errorf("handle at step: %w", err)
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeSource) Close() error { return nil }

// fakeSink acks every message asynchronously, or fails the one whose
// position in the stream (1-based) is failAt.
type fakeSink struct {
	ack    sink.AckFunc
	failAt uint64

	mu     sync.Mutex
	msgs   []sink.Message
	wg     sync.WaitGroup
	failed error
	closes int
}

func newFakeSink(failAt uint64) (*fakeSink, func(sink.AckFunc) (sink.Sink, error)) {
	f := &fakeSink{failAt: failAt}
	return f, func(ack sink.AckFunc) (sink.Sink, error) { f.ack = ack; return f, nil }
}

func (f *fakeSink) Write(_ context.Context, msgs []sink.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed != nil {
		return f.failed
	}
	var seqs []uint64
	for _, m := range msgs {
		if f.failAt != 0 && m.Seq == f.failAt {
			f.failed = errors.New("broker said no")
			break
		}
		f.msgs = append(f.msgs, m)
		seqs = append(seqs, m.Seq)
	}
	failed := f.failed
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.ack(seqs, nil)
		if failed != nil {
			f.ack([]uint64{f.failAt}, failed)
		}
	}()
	return nil
}

func (f *fakeSink) Flush(context.Context) error {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeSink) Close() error {
	f.Flush(context.Background())
	f.mu.Lock()
	f.closes++
	f.mu.Unlock()
	return nil
}

func testParams(t *testing.T, from, to string) params {
	t.Helper()
	p := params{source: "crm", topic: "repair", connector: transform.ConnectorMySQL, serverID: 1001,
		encoding: encode.Config{Source: "crm", Tombstones: true}, shutdownTimeout: time.Second, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var err error
	if p.from, err = mysqlsource.ParsePosition(from); err != nil {
		t.Fatal(err)
	}
	if p.to, err = mysqlsource.ParsePosition(to); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig has a MariaDB source (server_id 7), one whose server_id is
// the first one's default replay id, and a PostgreSQL source.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`
checkpoints: {dir: /tmp/x}
kafka: {brokers: ["127.0.0.1:9092"], on_oversized: dead_letter, dead_letter_topic: dlq}
topics: {prefix: cdc}
sources:
  - {name: crm, addr: "127.0.0.1:3306", user: u, server_id: 7}
  - {name: shop, addr: "127.0.0.1:3307", user: u, server_id: 1007}
  - {name: orders, kind: postgres, addr: "127.0.0.1:5432", user: u, database: o}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
