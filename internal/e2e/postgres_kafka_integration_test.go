package e2e

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// pgSetup is a test's private PostgreSQL database, publication and slot.
type pgSetup struct {
	*setup
	db *sql.DB // admin connection to the test database
}

func (s *pgSetup) slot() string        { return s.Database + "_slot" }
func (s *pgSetup) publication() string { return s.Database + "_pub" }

// preparePG creates the database with the workload tables (REPLICA IDENTITY
// FULL), a publication made by the admin (the CDC role owns no tables), the
// topics, and starts collecting them.
func preparePG(t *testing.T) (*pgSetup, *collector) {
	t.Helper()
	return preparePGTables(t, []string{"t1", "t2"}, workloadSchemaPG...)
}

func (s *pgSetup) pgTopic(table string) string {
	return s.Prefix + "." + s.Source + ".public." + table
}

func (s *pgSetup) writeConfig(t *testing.T) string {
	t.Helper()
	return s.setup.writeConfigWith(t, "", s.pgSource(testenv.PGAddr(), time.Second, 200*time.Millisecond))
}

// pgSource is the PostgreSQL source block of this setup for addr, with the
// given heartbeat and status interval.
func (s *pgSetup) pgSource(addr string, heartbeat, statusInterval time.Duration) string {
	return fmt.Sprintf(`
  - name: %s
    kind: postgres
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.*"]
    heartbeat: %s
    status_interval: %s
`, s.Source, addr, testenv.PGCDCUser, s.Database, s.slot(), s.publication(), heartbeat, statusInterval)
}

// confirmedFlush is the slot's confirmed_flush_lsn as the server reports it.
func (s *pgSetup) confirmedFlush(t *testing.T) pglogrepl.LSN {
	t.Helper()
	var text sql.NullString
	err := s.db.QueryRow("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", s.slot()).Scan(&text)
	if err != nil || !text.Valid {
		return 0
	}
	lsn, err := pglogrepl.ParseLSN(text.String)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// retainedWAL is how much WAL the server keeps for the test's slot.
func (s *pgSetup) retainedWAL(t *testing.T) int64 {
	t.Helper()
	var n sql.NullInt64
	err := s.db.QueryRow(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, s.slot()).Scan(&n)
	if err != nil {
		t.Fatalf("read the slot's retained WAL: %v", err)
	}
	return n.Int64
}

// An idle source on a busy server: 50 MB of WAL written in another database
// must not stay pinned by the slot.
func TestPostgresIdleSlotAdvancesWhileOthersWrite(t *testing.T) {
	s, _ := preparePG(t)
	d := startDaemon(t, "run", "-c", s.writeConfig(t))
	d.waitStreaming(t)

	other, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	table := s.Database + "_noise"
	testenv.Exec(t, other, "CREATE TABLE "+table+" (id serial PRIMARY KEY, pad text)")
	t.Cleanup(func() { other.Exec("DROP TABLE IF EXISTS " + table) })
	for i := 0; i < 50; i++ { // ~1 MB of WAL per statement
		testenv.Exec(t, other, "INSERT INTO "+table+" (pad) SELECT md5(g::text) || repeat('x', 968) FROM generate_series(1, 1000) g")
	}
	peak := s.retainedWAL(t)
	if peak < 40<<20 {
		t.Fatalf("only %d bytes of WAL retained after writing 50 MB elsewhere: the test did not load the server", peak)
	}
	var now int64
	testenv.Eventually(t, 2*time.Minute, "the idle slot to release the other database's WAL", func() bool {
		testenv.Exec(t, other, "CHECKPOINT") // lets the server move restart_lsn without waiting for its own checkpoint
		now = s.retainedWAL(t)
		return now < 8<<20
	})
	t.Logf("retained WAL: %d MB after the writes, %d KB once the idle source confirmed", peak>>20, now>>10)
	d.stop(t)
}
