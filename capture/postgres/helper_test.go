package postgres

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// recorder is a capture.Handler that keeps everything it is given. With
// onCommit set it also calls it for every Commit (e.g. to Confirm).
type recorder struct {
	mu       sync.Mutex
	changes  []*capture.Change
	commits  []capture.Commit
	events   []any // changes and commits, in order
	onCommit func(capture.Commit)
}

func (r *recorder) Change(_ context.Context, c *capture.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	r.events = append(r.events, c)
	return nil
}

func (r *recorder) Commit(_ context.Context, c capture.Commit) error {
	r.mu.Lock()
	r.commits = append(r.commits, c)
	r.events = append(r.events, c)
	f := r.onCommit
	r.mu.Unlock()
	if f != nil {
		f(c)
	}
	return nil
}

func (r *recorder) Schema(context.Context, capture.SchemaChange) error { return nil }

// snapshot returns copies of what was recorded so far.
func (r *recorder) snapshot() ([]*capture.Change, []capture.Commit, []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*capture.Change(nil), r.changes...), append([]capture.Commit(nil), r.commits...), append([]any(nil), r.events...)
}

// changesFor returns the recorded changes of one table.
func (r *recorder) changesFor(table string) []*capture.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*capture.Change
	for _, c := range r.changes {
		if c.Table.Name == table {
			out = append(out, c)
		}
	}
	return out
}

func testLogger() *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// pgServer is the server this package's integration tests run against:
// PostgreSQL 15 or, with TRIBUTARY_PG_VERSION=18, 18 (make test runs both).
func pgServer(t testing.TB) testenv.PGServer {
	t.Helper()
	return testenv.PGUnderTest(t)
}

func openPG(t *testing.T, db string) *sql.DB {
	t.Helper()
	return openPGOn(t, pgServer(t), db)
}

func openPGOn(t *testing.T, srv testenv.PGServer, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("pgx", srv.URL(db))
	if err != nil {
		t.Fatalf("open %s: %v", srv.Name(), err)
	}
	conn.SetMaxOpenConns(1) // session settings (TimeZone) must stick
	t.Cleanup(func() { conn.Close() })
	return conn
}

// testDB creates a unique database that the CDC role may connect to and
// returns an admin connection to it. Slots are dropped (dropSlot) before
// the database, which cannot be dropped while a slot decodes it.
func testDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	return testDBOn(t, pgServer(t))
}

// testDBOn is testDB on server srv.
func testDBOn(t *testing.T, srv testenv.PGServer) (*sql.DB, string) {
	t.Helper()
	testenv.RequireTCP(t, srv.Name(), srv.Addr)
	name := testenv.UniqueName(t, "cap")
	admin := openPGOn(t, srv, "postgres")
	testenv.Exec(t, admin, "CREATE DATABASE "+name, "GRANT CONNECT ON DATABASE "+name+" TO "+testenv.PGCDCUser)
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	return openPGOn(t, srv, name), name
}

// dropSlot drops slot when the test ends (after the stream stopped): a
// leftover slot retains WAL forever.
func dropSlot(t *testing.T, srv testenv.PGServer, slot string) {
	t.Helper()
	admin := openPGOn(t, srv, "postgres")
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			admin.Exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", slot)
			_, err := admin.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("drop replication slot %s: %v", slot, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// testSource builds a source for the CDC role on database db with its own
// slot (dropped at the end) and publication names and short intervals.
func testSource(t *testing.T, db string, mod func(*Config)) *Source {
	t.Helper()
	return testSourceOn(t, pgServer(t), db, mod)
}

// testSourceOn is testSource on server srv.
func testSourceOn(t *testing.T, srv testenv.PGServer, db string, mod func(*Config)) *Source {
	t.Helper()
	cfg := Config{
		Addr: srv.Addr, User: testenv.PGCDCUser, Password: testenv.PGCDCPassword, Database: db,
		SSLMode: "disable", Slot: testenv.UniqueName(t, "slot"), Publication: "pub_" + db,
		Include: []string{"public.*"}, StatusInterval: 200 * time.Millisecond, Heartbeat: 500 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	dropSlot(t, srv, cfg.Slot)
	s, err := New("test", cfg, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startStream runs s.Stream in the background and returns the recorder, a
// function that reports Stream's error once it returned, and one that stops
// the stream and waits for it.
func startStream(t *testing.T, s *Source, from capture.Resume, rec *recorder) (streamErr func() error, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Stream(ctx, from, rec) }()
	var mu sync.Mutex
	var result error
	finished := false
	stop = func() {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		select {
		case result = <-done:
			finished = true
		case <-time.After(10 * time.Second):
			t.Errorf("Stream did not return after cancel")
		}
	}
	t.Cleanup(stop)
	streamErr = func() error {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return result
		}
		select {
		case result = <-done:
			finished = true
			return result
		default:
			return nil
		}
	}
	return streamErr, stop
}

// slotConfirmed is the slot's confirmed_flush_lsn, read by the admin.
func slotConfirmed(t *testing.T, admin *sql.DB, slot string) string {
	t.Helper()
	var lsn sql.NullString
	if err := admin.QueryRow("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&lsn); err != nil {
		t.Fatalf("read slot %s: %v", slot, err)
	}
	return lsn.String
}

// resumeAt is the Resume of a position without snapshot work.
func resumeAt(pos string) capture.Resume { return capture.Resume{Position: pos} }
