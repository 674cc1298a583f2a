package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// postgresSource is the PostgreSQL side: an order system with support
// tickets. Every contender has its own slot, created before the writes.
type postgresSource struct {
	addr, database string
	db             *sql.DB // admin, on database
}

func newPostgres(addr, run string) *postgresSource {
	return &postgresSource{addr: addr, database: "tb_" + run}
}

func (s *postgresSource) Name() string        { return "postgres" }
func (s *postgresSource) SourceName() string  { return "orders" }
func (s *postgresSource) Label() string       { return "PostgreSQL WAL" }
func (s *postgresSource) Tables() []tableSpec { return orderTables }
func (s *postgresSource) TopicDB() string     { return "public" }
func (s *postgresSource) DB() *sql.DB         { return s.db }
func (s *postgresSource) Dialect() dialect    { return dialect{postgres: true, now: "clock_timestamp()"} }

func (s *postgresSource) slot(who string) string { return s.database + "_" + who }
func (s *postgresSource) publication() string    { return s.database + "_pub" }

func (s *postgresSource) connString(db string) string {
	host, port, _ := strings.Cut(s.addr, ":")
	return fmt.Sprintf("host=%s port=%s user=tributary_admin password=tributary_admin dbname=%s sslmode=disable", host, port, db)
}

func (s *postgresSource) Setup(ctx context.Context) error {
	admin, err := sql.Open("pgx", s.connString("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + s.database,
		"CREATE DATABASE " + s.database,
		fmt.Sprintf(`DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN
    CREATE ROLE %[1]s REPLICATION LOGIN PASSWORD '%[2]s';
  END IF;
END$$`, dbzUser, dbzPassword),
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("postgres setup: %w", err)
		}
	}
	s.db, err = sql.Open("pgx", s.connString(s.database))
	if err != nil {
		return err
	}
	s.db.SetMaxOpenConns(16)
	s.db.SetMaxIdleConns(16)
	stmts := []string{
		`CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, status TEXT NOT NULL,
  currency CHAR(3) NOT NULL, total NUMERIC(12,2) NOT NULL, items INT, shipping_name TEXT, shipping_address TEXT,
  note TEXT, version INT NOT NULL, placed_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`,
		`CREATE TABLE tickets (id BIGINT PRIMARY KEY, order_id BIGINT, channel TEXT, priority TEXT, subject TEXT,
  body TEXT, status TEXT, version INT NOT NULL, opened_at timestamptz, updated_at timestamptz)`,
		`CREATE TABLE latency_probe (id BIGINT PRIMARY KEY, committed_at timestamptz NOT NULL, payload TEXT)`,
		`CREATE TABLE bigtx (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)`,
		`CREATE TABLE marker (id BIGINT PRIMARY KEY, note TEXT)`,
		"CREATE PUBLICATION " + s.publication() + " FOR TABLE orders, tickets, latency_probe, bigtx, marker",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO tributary, " + dbzUser,
		// One slot per contender, before any write, so all start at the same LSN.
		fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", s.slot("trib")),
		fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", s.slot("dbz")),
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("postgres schema: %w", err)
		}
	}
	return nil
}

func (s *postgresSource) TributarySource(name string) string {
	return fmt.Sprintf(`  - name: %s
    kind: postgres
    addr: %q
    user: tributary
    password_env: TRIBUTARY_BENCH_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.*"]
`, name, s.addr, s.database, s.slot("trib"), s.publication())
}

func (s *postgresSource) DebeziumProps() map[string]string {
	host, port, _ := strings.Cut(s.addr, ":")
	return map[string]string{
		"name":                        "bench-postgres",
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"plugin.name":                 "pgoutput",
		"database.hostname":           host,
		"database.port":               port,
		"database.user":               dbzUser,
		"database.password":           dbzPassword,
		"database.dbname":             s.database,
		"slot.name":                   s.slot("dbz"),
		"publication.name":            s.publication(),
		"publication.autocreate.mode": "disabled",
		"table.include.list":          "public.orders,public.tickets,public.latency_probe,public.bigtx,public.marker",
		"snapshot.mode":               "no_data",
		// Logical decoding messages in this database (Tributary's
		// heartbeats) would otherwise go to a <prefix>.message topic that
		// does not exist, and the connector stops.
		"message.prefix.exclude.list": ".*",
	}
}

func (s *postgresSource) Marker(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO marker VALUES ($1, 'start here')", id)
	return err
}

// BeforeWrites creates the raw reader's slot: it starts where the
// contenders' slots stand (they have seen only the markers).
func (s *postgresSource) BeforeWrites(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", s.slot("raw")))
	return err
}

func (s *postgresSource) AfterWrites(context.Context) error { return nil }

func (s *postgresSource) RawRead(ctx context.Context, rows int64) (Rate, error) {
	r, err := readRawWAL(ctx, s.connString(s.database), s.slot("raw"), s.publication(), rows)
	// The raw slot has done its job; it must not hold WAL for the rest of the run.
	_, _ = s.db.ExecContext(context.Background(), fmt.Sprintf("SELECT pg_drop_replication_slot('%s')", s.slot("raw")))
	return r, err
}

func (s *postgresSource) BigTx(ctx context.Context, firstID, rows int64) error {
	_, err := s.db.ExecContext(ctx, fmt.Sprintf(
		"INSERT INTO bigtx SELECT g, repeat(md5(g::text), 32) FROM generate_series(%d, %d) g", firstID+1, firstID+rows))
	return err
}

func (s *postgresSource) Cleanup(ctx context.Context) error {
	if s.db != nil {
		s.db.Close()
	}
	admin, err := sql.Open("pgx", s.connString("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	var errs []string
	for _, q := range []string{
		fmt.Sprintf("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '%s\\_%%'", s.database),
		"DROP DATABASE IF EXISTS " + s.database,
		"DROP ROLE IF EXISTS " + dbzUser,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("postgres cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}
