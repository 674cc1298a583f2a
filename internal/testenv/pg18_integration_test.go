package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL 18 pair proves itself: the primary decodes logically, the
// standby streams from it through its physical slot, and a failover slot
// created on the primary is synchronised to the standby.
func TestPostgres18StandbySyncsFailoverSlots(t *testing.T) {
	RequireTCP(t, "PostgreSQL 18", PG18Addr())
	RequireTCP(t, "PostgreSQL 18 standby", PG18StandbyAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func(addr string) *pgx.Conn {
		t.Helper()
		c, err := pgx.Connect(ctx, pgURL(addr, "postgres"))
		if err != nil {
			t.Fatalf("connect %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	primary, standby := connect(PG18Addr()), connect(PG18StandbyAddr())

	var version int
	var walLevel string
	if err := primary.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('wal_level')`).Scan(&version, &walLevel); err != nil {
		t.Fatal(err)
	}
	if version/10000 != 18 || walLevel != "logical" {
		t.Fatalf("primary: server_version_num %d, wal_level %s; want 18xxxx, logical", version, walLevel)
	}
	var recovery bool
	var syncSlots, feedback, slotName string
	err := standby.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('sync_replication_slots'),
		current_setting('hot_standby_feedback'), current_setting('primary_slot_name')`).Scan(&recovery, &syncSlots, &feedback, &slotName)
	if err != nil {
		t.Fatal(err)
	}
	if !recovery || syncSlots != "on" || feedback != "on" || slotName == "" {
		t.Fatalf("standby: in recovery %v, sync_replication_slots %s, hot_standby_feedback %s, primary_slot_name %q", recovery, syncSlots, feedback, slotName)
	}
	var active bool
	if err := primary.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, slotName).Scan(&active); err != nil || !active {
		t.Fatalf("primary: standby slot %s active %v, %v", slotName, active, err)
	}

	slot := UniqueName(t, "failover")
	if _, err := primary.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)`, slot); err != nil {
		t.Fatalf("create failover slot: %v", err)
	}
	t.Cleanup(func() {
		primary.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
	})
	// The standby's slot sync worker naps up to 30 s while nothing changes;
	// a configuration reload wakes it.
	var woken time.Time
	Eventually(t, time.Minute, "slot "+slot+" synchronised to the standby", func() bool {
		if time.Since(woken) > time.Second {
			standby.Exec(ctx, `SELECT pg_reload_conf()`) //nolint:errcheck // a wake-up; the query below tells
			woken = time.Now()
		}
		var synced, failover, temporary bool
		err := standby.QueryRow(ctx, `SELECT synced, failover, temporary FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&synced, &failover, &temporary)
		return err == nil && synced && failover && !temporary
	})
}
