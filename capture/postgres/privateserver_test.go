package postgres

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// privateServer is a PostgreSQL instance of one test's own, for settings
// the shared server must not get (they are global: synchronous_standby_names
// would make every other test's commits wait). It runs the same binaries as
// scripts/services, as user postgres when the test runs as root (the server
// refuses root), with trust authentication on loopback.
type privateServer struct {
	bin, dir, data string
	port           int
	asPostgres     bool
}

// pgBinDir is $TRIBUTARY_PG_BIN, else the binaries of the server under
// test: PostgreSQL 18's from scripts/services, or the newest
// /usr/lib/postgresql/*/bin with initdb, as scripts/services picks it.
func pgBinDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("TRIBUTARY_PG_BIN"); d != "" {
		return d
	}
	if d := pgServer(t).BinDir; d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			t.Fatalf("%s binaries: %v: scripts/services up postgres18 installs them", pgServer(t).Name(), err)
		}
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[i], dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Fatalf("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (set TRIBUTARY_PG_BIN); scripts/services up installs them")
	return ""
}

func versionLess(a, b string) bool {
	va, vb := filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b))
	if len(va) != len(vb) {
		return len(va) < len(vb)
	}
	return va < vb
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrivateServer initialises and starts an instance with wal_level
// logical plus conf (postgresql.conf lines); it is stopped when the test
// ends.
func startPrivateServer(t *testing.T, conf ...string) *privateServer {
	t.Helper()
	ps := &privateServer{bin: pgBinDir(t), dir: t.TempDir(), port: freePort(t), asPostgres: os.Geteuid() == 0}
	ps.data = filepath.Join(ps.dir, "data")
	if ps.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the server needs user postgres: %v", err)
		}
		// t.TempDir's parent is 0700; the server's user must reach its data.
		if err := os.Chmod(filepath.Dir(ps.dir), 0o711); err != nil {
			t.Fatal(err)
		}
		ps.run(t, "chown", u.Username+":", ps.dir)
	}
	ps.run(t, filepath.Join(ps.bin, "initdb"), "-D", ps.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync", "--no-instructions")
	lines := append([]string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", ps.port),
		fmt.Sprintf("unix_socket_directories = '%s'", ps.dir),
		"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 10",
		"max_connections = 30", "shared_buffers = 16MB", "fsync = off",
	}, conf...)
	f, err := os.OpenFile(filepath.Join(ps.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n" + strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("write postgresql.conf: %v", err)
	}
	// pg_hba.conf from initdb -A trust already admits replication on loopback.
	ps.run(t, filepath.Join(ps.bin, "pg_ctl"), "-D", ps.data, "-l", filepath.Join(ps.dir, "postgres.log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		// Immediate: nothing of it is kept, and a smart shutdown would wait
		// for sessions the test may have left blocked.
		cmd := ps.command(filepath.Join(ps.bin, "pg_ctl"), "-D", ps.data, "-m", "immediate", "-w", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop the private PostgreSQL: %v: %s", err, out)
		}
	})
	return ps
}

// command runs as the server's user.
func (ps *privateServer) command(name string, args ...string) *exec.Cmd {
	if ps.asPostgres && name != "chown" {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (ps *privateServer) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := ps.command(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(ps.dir, "postgres.log"))
		t.Fatalf("%s %s: %v\n%s\n%s", filepath.Base(name), strings.Join(args, " "), err, out, log)
	}
}

func (ps *privateServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", ps.port) }

// open connects as the superuser to database db; the connection is closed
// when the test ends.
func (ps *privateServer) open(t *testing.T, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("pgx", fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", ps.addr(), db))
	if err != nil {
		t.Fatalf("open the private PostgreSQL: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	testenv.Eventually(t, 10*time.Second, "private PostgreSQL accepts connections", func() bool { return conn.Ping() == nil })
	return conn
}
