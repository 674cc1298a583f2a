package testenv

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MariaDBFailoverPair is the destructive pair scripts/services runs for
// failover tests (never the shared MariaDB): a primary and a GTID replica
// of it (log_slave_updates, one domain) with the test bed's users. A test
// takes it with TakeMariaDBFailoverPair, which re-creates it fresh.
type MariaDBFailoverPair struct {
	PrimaryAddr, ReplicaAddr string
	dir                      string
}

// TakeMariaDBFailoverPair re-creates the pair (scripts/services reset
// mariadb-failover: empty binlogs, replication running) and holds it for
// the test: a lock file keeps other test processes off it until the test
// ends.
func TakeMariaDBFailoverPair(t testing.TB) *MariaDBFailoverPair {
	t.Helper()
	dir := takeServiceForTest(t, "mariadb-failover", "the MariaDB failover pair")
	return &MariaDBFailoverPair{
		PrimaryAddr: "127.0.0.1:" + env("TRIBUTARY_MYSQL_FAILOVER_PRIMARY_PORT", "13316"),
		ReplicaAddr: "127.0.0.1:" + env("TRIBUTARY_MYSQL_FAILOVER_REPLICA_PORT", "13317"),
		dir:         dir,
	}
}

// DSN is the admin DSN of the server at addr, on database db.
func (p *MariaDBFailoverPair) DSN(addr, db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?multiStatements=true&loc=UTC&timeout=3s&readTimeout=10s&writeTimeout=10s",
		MySQLAdminUser, MySQLAdminPassword, addr, db)
}

// Open is an admin connection pool to the server at addr, closed when the
// test ends.
func (p *MariaDBFailoverPair) Open(t testing.TB, addr, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("mysql", p.DSN(addr, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// primaryPID is the running primary's process id.
func (p *MariaDBFailoverPair) primaryPID(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "primary", "mariadbd.pid"))
	if err != nil {
		t.Fatalf("the failover primary's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the failover primary's pid %q: %v", b, err)
	}
	return pid
}

// PrimaryGTIDPos is the primary's @@gtid_binlog_pos: the last GTID it
// logged ("0-11-57").
func (p *MariaDBFailoverPair) PrimaryGTIDPos(t testing.TB) string {
	t.Helper()
	var pos string
	if err := p.Open(t, p.PrimaryAddr, "").QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatalf("the primary's gtid_binlog_pos: %v", err)
	}
	return pos
}

// WaitReplicaReached waits until the replica has applied the primary's
// domain-0 transactions up to gtid ("0-11-57") or beyond, while the
// primary may go on writing.
func (p *MariaDBFailoverPair) WaitReplicaReached(t testing.TB, gtid string) {
	t.Helper()
	want := seqNo(t, gtid)
	replica := p.Open(t, p.ReplicaAddr, "")
	Eventually(t, 30*time.Second, "the replica to apply "+gtid, func() bool {
		var got string
		return replica.QueryRow("SELECT @@gtid_slave_pos").Scan(&got) == nil && got != "" && seqNo(t, got) >= want
	})
}

// seqNo is the sequence number of a one-domain MariaDB GTID position.
func seqNo(t testing.TB, gtid string) uint64 {
	t.Helper()
	parts := strings.Split(gtid, "-")
	n, err := strconv.ParseUint(parts[len(parts)-1], 10, 64)
	if err != nil || len(parts) != 3 {
		t.Fatalf("GTID position %q: want one domain-server-seq", gtid)
	}
	return n
}

// KillPrimary stops the primary hard (kill -9 of mariadbd) and waits until
// it is gone.
func (p *MariaDBFailoverPair) KillPrimary(t testing.TB) {
	t.Helper()
	pid := p.primaryPID(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the failover primary (pid %d): %v", pid, err)
	}
	Eventually(t, 30*time.Second, "the killed primary to be gone", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

// WaitReplicaCaughtUp waits until the replica has applied everything the
// primary has logged.
func (p *MariaDBFailoverPair) WaitReplicaCaughtUp(t testing.TB) {
	t.Helper()
	primary, replica := p.Open(t, p.PrimaryAddr, ""), p.Open(t, p.ReplicaAddr, "")
	var want string
	if err := primary.QueryRow("SELECT @@gtid_binlog_pos").Scan(&want); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, "the replica to reach "+want, func() bool {
		var got string
		return replica.QueryRow("SELECT @@gtid_slave_pos").Scan(&got) == nil && got == want
	})
}

// Promote makes the replica a primary: STOP SLAVE; RESET SLAVE ALL.
func (p *MariaDBFailoverPair) Promote(t testing.TB) {
	t.Helper()
	Exec(t, p.Open(t, p.ReplicaAddr, ""), "STOP SLAVE", "RESET SLAVE ALL")
}
