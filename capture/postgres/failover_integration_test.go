package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// failoverPair is scripts/services' PostgreSQL 18 failover pair (never
// the shared servers): the test stops the primary and promotes the standby.
type failoverPair struct {
	*testenv.PG18FailoverPair
	primary *sql.DB // database postgres on the primary
}

// startFailoverPair takes the pair, fresh; syncSlots false turns the
// standby's sync_replication_slots off (it is on in the pair).
func startFailoverPair(t *testing.T, syncSlots bool) *failoverPair {
	t.Helper()
	if v := pgServer(t).Version; v != "18" {
		t.Skipf("failover slots need PostgreSQL 17+: this test runs in the PostgreSQL 18 pass (TRIBUTARY_PG_VERSION=18), not on %s", v)
	}
	p := &failoverPair{PG18FailoverPair: testenv.TakePG18FailoverPair(t)}
	p.primary = p.Open(t, p.PrimaryAddr, "postgres")
	testenv.Exec(t, p.primary, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`)
	if !syncSlots {
		testenv.Exec(t, p.Open(t, p.StandbyAddr, "postgres"), `ALTER SYSTEM SET sync_replication_slots = off`, `SELECT pg_reload_conf()`)
	}
	return p
}

// source reads the pair's database postgres from the primary, the
// standby as failover address.
func (p *failoverPair) source(t *testing.T, mods ...func(*Config)) *Source {
	t.Helper()
	cfg := Config{
		Addr: p.PrimaryAddr, FailoverAddrs: []string{p.StandbyAddr},
		User: testenv.PGAdminUser, Password: testenv.PGAdminPassword, Database: "postgres", SSLMode: "disable",
		Slot: "fo_slot", Publication: "fo_pub",
		Include: []string{"public.*"}, StatusInterval: 200 * time.Millisecond, Heartbeat: 500 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New("fo", cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// streamUntilFailover streams rows 1-5 from the primary, confirms the last
// commit (as a checkpoint would), stops the primary (immediate) and
// promotes the standby; waitSynced first waits for the standby's copy of
// the slot to have caught up with the confirmation.
func (p *failoverPair) streamUntilFailover(t *testing.T, s *Source, waitSynced bool) capture.Commit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from, err := s.CurrentPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	streamErr, stop := startStream(t, s, from, rec)
	db := p.primary
	// Rows written before Stream created the publication would not be
	// published: wait until it reads the slot.
	testenv.Eventually(t, 20*time.Second, "the stream to read fo_slot", func() bool {
		var active bool
		return db.QueryRow(`SELECT active FROM pg_replication_slots WHERE slot_name = 'fo_slot'`).Scan(&active) == nil && active
	})
	for i := 1; i <= 5; i++ {
		testenv.Exec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", i, i))
	}
	testenv.Eventually(t, 20*time.Second, "rows 1-5 streamed", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		return len(rec.changesFor("t")) == 5
	})
	var last capture.Commit
	testenv.Eventually(t, 20*time.Second, "the commit after row 5", func() bool {
		_, _, events := rec.snapshot()
		rows := 0
		for _, ev := range events {
			switch e := ev.(type) {
			case *capture.Change:
				rows++
			case capture.Commit:
				if rows == 5 {
					last = e
					return true
				}
			}
		}
		return false
	})
	s.Confirm(last.Position)
	if waitSynced {
		testenv.Eventually(t, 10*time.Second, "the server to report "+last.Position+" confirmed", func() bool {
			var ok bool
			return db.QueryRow(`SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'fo_slot'`, last.Position).Scan(&ok) == nil && ok
		})
		p.WaitSlotSynced(t, "fo_slot")
	}
	stop()
	p.StopPrimary(t)
	p.Promote(t)
	return last
}

// TestPostgresFailoverResumesFromSyncedSlot: the primary stops, the
// standby with sync_replication_slots is promoted, and the source resumes
// from its synchronised copy of the failover slot at the checkpoint:
// exactly the rows written after it, nothing again.
func TestPostgresFailoverResumesFromSyncedSlot(t *testing.T) {
	p := startFailoverPair(t, true)
	s := p.source(t)
	last := p.streamUntilFailover(t, s, true)
	promoted := p.Open(t, p.StandbyAddr, "postgres")
	var synced, failover bool
	if err := promoted.QueryRow(`SELECT synced, failover FROM pg_replication_slots WHERE slot_name = 'fo_slot'`).Scan(&synced, &failover); err != nil || !synced || !failover {
		t.Fatalf("fo_slot on the promoted server: synced %v, failover %v, err %v; want both true", synced, failover, err)
	}
	testenv.Exec(t, promoted, "INSERT INTO t VALUES (6, 6)", "UPDATE t SET v = 60 WHERE id = 6", "INSERT INTO t VALUES (7, 7)")

	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(last.Position), rec)
	testenv.Eventually(t, 30*time.Second, "the promoted server's changes", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream after the failover: %v", err)
		}
		return len(rec.changesFor("t")) >= 3
	})
	var got []string
	for _, c := range rec.changesFor("t") {
		got = append(got, fmt.Sprintf("%s:%v=%v", c.Op, c.After[0], c.After[1]))
	}
	if strings.Join(got, " ") != "c:6=6 u:6=60 c:7=7" {
		t.Errorf("after the failover: %v, want exactly the promoted server's c:6=6 u:6=60 c:7=7", got)
	}
	if s.addr() != p.StandbyAddr {
		t.Errorf("source uses %s, want the promoted standby %s", s.addr(), p.StandbyAddr)
	}
	// A table reader of the source (verify, the accuracy monitor) reads
	// the promoted server too.
	r, err := NewReader("fo", s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if tables, err := r.Tables(ctx); err != nil || len(tables) != 1 || r.s.addr() != p.StandbyAddr {
		t.Errorf("table reader after the failover: tables %v, err %v, server %s; want public.t on %s", tables, err, r.s.addr(), p.StandbyAddr)
	}
}

// TestPostgresFailoverWithoutSlotSyncIsAnError: the standby ran without
// sync_replication_slots, so the promoted server has no slot: the source
// stops with a permanent error naming the slot and the setting.
func TestPostgresFailoverWithoutSlotSyncIsAnError(t *testing.T) {
	p := startFailoverPair(t, false)
	s := p.source(t)
	last := p.streamUntilFailover(t, s, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.Stream(ctx, resumeAt(last.Position), &recorder{})
	var pe *capture.PermanentError
	if !errors.As(err, &pe) || !errors.Is(err, ErrSlotGone) || !strings.Contains(err.Error(), "fo_slot") || !strings.Contains(err.Error(), "sync_replication_slots = on") {
		t.Errorf("Stream = %v; want a permanent ErrSlotGone naming fo_slot and sync_replication_slots", err)
	}
}

// TestPostgresFailoverWithoutSlotSyncResnapshotsWhenNeeded: after the same
// failover a source with snapshot mode when_needed creates the slot on the
// promoted server and re-reads the table, then streams its changes.
func TestPostgresFailoverWithoutSlotSyncResnapshotsWhenNeeded(t *testing.T) {
	p := startFailoverPair(t, false)
	last := p.streamUntilFailover(t, p.source(t), false)
	// Restarted with when_needed (as after the ErrSlotGone stop).
	s := p.source(t, func(c *Config) { c.Snapshot = snapshot.Config{Mode: snapshot.WhenNeeded} })
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(last.Position), rec)
	testenv.Eventually(t, 30*time.Second, "rows 1-5 re-read from the promoted server", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream after the failover: %v", err)
		}
		read := 0
		for _, c := range rec.changesFor("t") {
			if c.Op == capture.OpRead {
				read++
			}
		}
		return read == 5
	})
	testenv.Exec(t, p.Open(t, p.StandbyAddr, "postgres"), "INSERT INTO t VALUES (6, 6)")
	testenv.Eventually(t, 30*time.Second, "the promoted server's insert", func() bool {
		for _, c := range rec.changesFor("t") {
			if c.Op == capture.OpCreate && fmt.Sprint(c.After[0]) == "6" {
				return true
			}
		}
		return false
	})
}
