package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// An invalidated slot stops the source with ErrSlotGone naming the cause
// and the setting behind it; from PostgreSQL 17 the server says why
// (invalidation_reason). WAL removed beyond max_slot_wal_keep_size
// invalidates a slot on every version, idleness beyond
// idle_replication_slot_timeout from 18 on. It runs on a private server:
// both settings are global and would invalidate other tests' slots.
func TestInvalidatedSlotNamesTheCause(t *testing.T) {
	t.Parallel()
	ps := startPrivateServer(t, "max_slot_wal_keep_size = 1MB")
	db := ps.open(t, "postgres")
	testenv.Exec(t, db, `CREATE TABLE t (id serial PRIMARY KEY, v text)`, `CREATE PUBLICATION pub_inval FOR TABLE t`)
	var version int
	if err := db.QueryRow(`SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}

	// invalidated creates slot, runs provoke (with a checkpoint, when the
	// server invalidates slots) until the slot is lost, and checks what
	// Stream and SlotStatus then say.
	invalidated := func(slot, reason string, provoke func(), parts ...string) {
		t.Helper()
		s, err := New("test", Config{
			Addr: ps.addr(), User: "postgres", Database: "postgres", SSLMode: "disable",
			Slot: slot, Publication: "pub_inval", Include: []string{"public.*"},
			StatusInterval: 200 * time.Millisecond, Heartbeat: 500 * time.Millisecond,
		}, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		pos := currentPosition(t, s)
		testenv.Eventually(t, 30*time.Second, "slot "+slot+" invalidated", func() bool {
			provoke()
			testenv.Exec(t, db, `CHECKPOINT`)
			var lost bool
			err := db.QueryRow(`SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lost)
			return err == nil && lost
		})

		st, err := s.SlotStatus(context.Background())
		if version < 170000 {
			reason = "" // no invalidation_reason before 17
		}
		if err != nil || st.WALStatus != "lost" || st.InvalidationReason != reason {
			t.Errorf("%s: SlotStatus = %+v, %v; want wal_status lost, invalidation_reason %q", slot, st, err, reason)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		err = s.Stream(ctx, resumeAt(pos), &recorder{})
		var pe *capture.PermanentError
		if !errors.As(err, &pe) || !errors.Is(err, ErrSlotGone) {
			t.Fatalf("%s: Stream error %v, want a PermanentError wrapping ErrSlotGone", slot, err)
		}
		if reason != "" {
			parts = append(parts, "invalidation_reason="+reason)
		}
		for _, p := range append(parts, "wal_status=lost", "re-snapshot") {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error %q does not say %q", slot, err, p)
			}
		}
	}

	invalidated("slot_wal_removed", "wal_removed", func() {
		testenv.Exec(t, db, `INSERT INTO t (v) SELECT repeat('x', 1000) FROM generate_series(1, 2000)`, `SELECT pg_switch_wal()`)
	}, "max_slot_wal_keep_size")

	if version < 180000 {
		return
	}
	testenv.Exec(t, db, `ALTER SYSTEM SET max_slot_wal_keep_size = -1`, `ALTER SYSTEM SET idle_replication_slot_timeout = '1s'`, `SELECT pg_reload_conf()`)
	invalidated("slot_idle", "idle_timeout", func() { time.Sleep(500 * time.Millisecond) }, "idle_replication_slot_timeout")
}
