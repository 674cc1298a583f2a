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

// PG18FailoverPair is the destructive PostgreSQL 18 pair scripts/services
// runs for failover tests (never the shared postgres18 pair): a primary and
// a physical standby of it, failover-ready (the standby has
// sync_replication_slots and hot_standby_feedback on and streams through
// the physical slot PG18FailoverStandbySlot, which the primary names in
// synchronized_standby_slots; commits wait for the standby). Both have the
// test bed's roles. A test takes it with TakePG18FailoverPair, which
// re-creates it fresh.
type PG18FailoverPair struct {
	PrimaryAddr, StandbyAddr string
	dir                      string
}

// PG18FailoverStandbySlot is the standby's physical slot on the primary.
const PG18FailoverStandbySlot = "tributary_failover_standby"

// TakePG18FailoverPair re-creates the pair (scripts/services reset
// postgres18-failover) and holds it for the test: a lock file keeps other
// test processes off it until the test ends.
func TakePG18FailoverPair(t testing.TB) *PG18FailoverPair {
	t.Helper()
	dir := takeServiceForTest(t, "postgres18-failover", "the PostgreSQL 18 failover pair")
	return &PG18FailoverPair{
		PrimaryAddr: "127.0.0.1:" + env("TRIBUTARY_PG18_FAILOVER_PRIMARY_PORT", "15435"),
		StandbyAddr: "127.0.0.1:" + env("TRIBUTARY_PG18_FAILOVER_STANDBY_PORT", "15436"),
		dir:         dir,
	}
}

// URL is a libpq URL for the admin user on database db of the server at
// addr.
func (p *PG18FailoverPair) URL(addr, db string) string { return pgURL(addr, db) }

// Open is an admin connection pool to database db of the server at addr
// (the test imports a "pgx" database/sql driver), closed when the test
// ends.
func (p *PG18FailoverPair) Open(t testing.TB, addr, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("pgx", p.URL(addr, db)+"&connect_timeout=3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Logs are the pair's server logs, for a failing test to show.
func (p *PG18FailoverPair) Logs() string {
	var b strings.Builder
	for _, role := range []string{"primary", "standby"} {
		out, _ := os.ReadFile(filepath.Join(p.dir, role, "postgres.log"))
		fmt.Fprintf(&b, "--- %s log (last 4000 bytes)\n%s\n", role, out[max(0, len(out)-4000):])
	}
	return b.String()
}

// WaitSlotSynced waits until the standby holds a persisted, synchronised
// copy of logical slot slot (synced, not temporary) whose
// confirmed_flush_lsn has reached the primary slot's as it is now. The
// slot sync worker persists a copy only once the primary slot's
// restart_lsn and catalog_xmin have passed what the standby can reserve,
// which needs a running-transactions record decoded after the consumer's
// confirmation: the wait asks the primary for one (pg_log_standby_snapshot)
// and wakes the worker (a configuration reload) on every poll.
func (p *PG18FailoverPair) WaitSlotSynced(t testing.TB, slot string) {
	t.Helper()
	primary, standby := p.Open(t, p.PrimaryAddr, "postgres"), p.Open(t, p.StandbyAddr, "postgres")
	var want string
	if err := primary.QueryRow(`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&want); err != nil {
		t.Fatalf("read slot %s on the failover primary: %v", slot, err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		primary.Exec(`SELECT pg_log_standby_snapshot()`) //nolint:errcheck // a nudge
		standby.Exec(`SELECT pg_reload_conf()`)          //nolint:errcheck // wakes the slot sync worker
		var ok bool
		var state string
		err := standby.QueryRow(`SELECT synced AND NOT temporary AND confirmed_flush_lsn >= $2::pg_lsn,
				format('synced=%s temporary=%s confirmed_flush_lsn=%s', synced, temporary, confirmed_flush_lsn)
			FROM pg_replication_slots WHERE slot_name = $1`, slot, want).Scan(&ok, &state)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				state = err.Error()
			}
			t.Fatalf("the standby's copy of slot %s did not reach the primary's confirmed_flush_lsn %s in 45s (%s)\n%s", slot, want, state, p.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StopPrimary stops the primary in immediate mode (SIGQUIT to the
// postmaster: no shutdown checkpoint, clients cut off) and waits until it
// is gone.
func (p *PG18FailoverPair) StopPrimary(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "primary", "data", "postmaster.pid"))
	if err != nil {
		t.Fatalf("the failover primary's postmaster.pid: %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("the failover primary's pid %q: %v", first, err)
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatalf("stop the failover primary (pid %d, immediate): %v", pid, err)
	}
	Eventually(t, 30*time.Second, "the stopped primary to be gone", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

// Promote promotes the standby (pg_promote, which waits until it is done).
func (p *PG18FailoverPair) Promote(t testing.TB) {
	t.Helper()
	var done bool
	if err := p.Open(t, p.StandbyAddr, "postgres").QueryRow(`SELECT pg_promote(true, 60)`).Scan(&done); err != nil || !done {
		t.Fatalf("promote the failover standby: %v (done %v)\n%s", err, done, p.Logs())
	}
}
