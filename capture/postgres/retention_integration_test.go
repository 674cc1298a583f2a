package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Retention reports the WAL the slot holds back, which grows while nothing
// is confirmed, and max_slot_wal_keep_size as the server has it; a source
// whose slot is gone says so.
func TestRetention(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "CREATE PUBLICATION pub_"+name+" FOR TABLE t")
	s := testSource(t, name, nil)
	ctx := context.Background()
	if _, err := s.Retention(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Retention before the slot exists: %v, want does not exist", err)
	}
	currentPosition(t, s) // creates the slot

	var mb int64 // the setting's unit is MB; -1 is unlimited
	if err := db.QueryRow("SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'").Scan(&mb); err != nil {
		t.Fatal(err)
	}
	before, err := s.Retention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(-1)
	if mb >= 0 {
		want = mb << 20
	}
	if before.LimitBytes != want {
		t.Errorf("LimitBytes %d with max_slot_wal_keep_size %d MB, want %d", before.LimitBytes, mb, want)
	}
	testenv.Exec(t, db, "INSERT INTO t SELECT g, repeat('x', 1000) FROM generate_series(1, 200) g")
	testenv.Eventually(t, 10*time.Second, "the slot to retain the new WAL", func() bool {
		after, err := s.Retention(ctx)
		return err == nil && after.RetainedBytes >= before.RetainedBytes+200_000
	})
}
