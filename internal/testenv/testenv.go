// Package testenv tells integration tests where the project's real servers
// (started by scripts/services) listen, and gives each test unique names.
// A missing server is a test failure naming the server, never a skip.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Addresses of the servers scripts/services starts. Ports can be moved with
// the same environment variables the script reads.
func MySQLAddr() string { return "127.0.0.1:" + env("TRIBUTARY_MYSQL_PORT", "13306") }
func PGAddr() string    { return "127.0.0.1:" + env("TRIBUTARY_PG_PORT", "15432") }
func KafkaAddr() string { return "127.0.0.1:" + env("TRIBUTARY_KAFKA_PORT", "19092") }

// Credentials created by scripts/services. The admin accounts set up test
// schemas; the CDC accounts have only the privileges Tributary needs.
const (
	MySQLAdminUser     = "tributary_admin"
	MySQLAdminPassword = "tributary_admin"
	MySQLCDCUser       = "tributary"
	MySQLCDCPassword   = "tributary"
	PGAdminUser        = "tributary_admin"
	PGAdminPassword    = "tributary_admin"
	PGCDCUser          = "tributary"
	PGCDCPassword      = "tributary"
)

// MySQLDSN is a go-sql-driver style DSN for the admin user on database db.
func MySQLDSN(db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?parseTime=false&multiStatements=true&loc=UTC&time_zone=%%27%%2B00%%3A00%%27",
		MySQLAdminUser, MySQLAdminPassword, MySQLAddr(), db)
}

// PGURL is a libpq URL for the admin user on database db of the server at
// PGAddr.
func PGURL(db string) string { return pgURL(PGAddr(), db) }

var counter atomic.Uint32

// UniqueName returns a name unique to this test run, made of lowercase
// letters, digits and underscores, usable as a database, topic or slot name.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	n := counter.Add(1)
	return fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid()%100000, time.Now().UnixNano()%1000000, n)
}

// ServerID returns a binlog server_id unique among this process's
// connections and unlikely to clash with other test processes.
func ServerID() uint32 {
	return 100000 + uint32(os.Getpid()%10000)*100 + counter.Add(1)%100
}

// RequireTCP fails the test, naming the server, if nothing listens at addr.
func RequireTCP(t testing.TB, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("%s is not reachable at %s (%v): start it with `scripts/services up` (make test does)", name, addr, err)
	}
	c.Close()
}

// Exec runs statements on db, failing the test on the first error.
func Exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("exec %q: %v", strings.TrimSpace(s), err)
		}
	}
}

// Eventually polls cond every 50ms until it returns true or the deadline
// passes, then fails with msg. Tests use it instead of sleeps.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
