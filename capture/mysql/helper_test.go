package mysql

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// recorder is a capture.Handler that keeps everything it is given.
type recorder struct {
	mu      sync.Mutex
	changes []*capture.Change
	commits []capture.Commit
	schemas []capture.SchemaChange
	events  []any // all three, in order
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
	defer r.mu.Unlock()
	r.commits = append(r.commits, c)
	r.events = append(r.events, c)
	return nil
}

func (r *recorder) Schema(_ context.Context, s capture.SchemaChange) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.schemas = append(r.schemas, s)
	r.events = append(r.events, s)
	return nil
}

// snapshot returns copies of what was recorded so far.
func (r *recorder) snapshot() ([]*capture.Change, []capture.Commit, []capture.SchemaChange, []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*capture.Change(nil), r.changes...), append([]capture.Commit(nil), r.commits...),
		append([]capture.SchemaChange(nil), r.schemas...), append([]any(nil), r.events...)
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

// testDB creates a unique database and returns an admin connection to it.
func testDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
	name := testenv.UniqueName(t, "cap")
	admin, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatalf("open MariaDB: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	testenv.Exec(t, admin, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	db, err := sql.Open("mysql", testenv.MySQLDSN(name))
	if err != nil {
		t.Fatalf("open MariaDB: %v", err)
	}
	db.SetMaxOpenConns(1) // session settings (sql_mode, binlog_row_image) must stick
	t.Cleanup(func() { db.Close() })
	return db, name
}

// testSource builds a source for the CDC user capturing only database db.
func testSource(t *testing.T, db string, mod func(*Config)) *Source {
	t.Helper()
	cfg := Config{
		Addr: testenv.MySQLAddr(), User: testenv.MySQLCDCUser, Password: testenv.MySQLCDCPassword,
		ServerID: testenv.ServerID(), Include: []string{db + ".*"},
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New("test", cfg, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startStream runs s.Stream in the background until the test ends and
// returns the recorder and a function that reports Stream's error, if any.
func startStream(t *testing.T, s *Source, from capture.Resume) (*recorder, func() error) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Stream(ctx, from, rec) }()
	var once sync.Once
	var result error
	finished := false
	t.Cleanup(func() {
		cancel()
		if finished { // streamErr took Stream's result
			return
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Stream did not return after cancel")
		}
	})
	streamErr := func() error {
		if finished {
			return result
		}
		select {
		case err := <-done:
			once.Do(func() { result, finished = err, true })
			return err
		default:
			return nil
		}
	}
	return rec, streamErr
}

// serverPosition is the server's current binlog position, read by the admin.
func serverPosition(t *testing.T, db *sql.DB) string {
	t.Helper()
	var file string
	var pos uint32
	var a, b sql.NullString
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		t.Fatalf("show master status: %v", err)
	}
	return Position{File: file, Pos: pos}.String()
}

// resumeAt is the Resume of a position without snapshot work.
func resumeAt(pos string) capture.Resume { return capture.Resume{Position: pos} }
