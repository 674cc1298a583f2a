package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	_ "github.com/go-sql-driver/mysql"
)

// mariadbSource is the MariaDB side: a CRM and call-center database.
type mariadbSource struct {
	addr, database string
	serverIDBase   uint32
	db             *sql.DB // admin, on database
	from, to       mysql.Position
}

const (
	dbzUser     = "tribench_dbz"
	dbzPassword = "tribench_dbz"
)

func newMariaDB(addr, run string) *mariadbSource {
	return &mariadbSource{addr: addr, database: "tb_" + run, serverIDBase: 7_000_000 + runNumber(run)%100_000*10}
}

func (s *mariadbSource) Name() string        { return "mariadb" }
func (s *mariadbSource) SourceName() string  { return "crm" }
func (s *mariadbSource) Label() string       { return "MariaDB binlog" }
func (s *mariadbSource) Tables() []tableSpec { return crmTables }
func (s *mariadbSource) TopicDB() string     { return s.database }
func (s *mariadbSource) DB() *sql.DB         { return s.db }
func (s *mariadbSource) Dialect() dialect    { return dialect{now: "NOW(6)"} }

func (s *mariadbSource) dsn(db string) string {
	return fmt.Sprintf("tributary_admin:tributary_admin@tcp(%s)/%s?multiStatements=true&time_zone=%%27%%2B00%%3A00%%27", s.addr, db)
}

func (s *mariadbSource) Setup(ctx context.Context) error {
	admin, err := sql.Open("mysql", s.dsn(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	stmts := []string{
		"DROP DATABASE IF EXISTS " + s.database,
		"CREATE DATABASE " + s.database,
		// Debezium's own user, with exactly the grants Tributary's user has.
		fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", dbzUser, dbzPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '%s'@'%%'", dbzUser),
	}
	for _, q := range stmts {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadb setup: %w", err)
		}
	}
	s.db, err = sql.Open("mysql", s.dsn(s.database))
	if err != nil {
		return err
	}
	s.db.SetMaxOpenConns(16)
	s.db.SetMaxIdleConns(16)
	ddl := `
CREATE TABLE customers (id BIGINT PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
  email VARCHAR(100) NOT NULL, phone VARCHAR(24), street VARCHAR(100), city VARCHAR(50), postal_code VARCHAR(12),
  country CHAR(2), segment VARCHAR(16), balance DECIMAL(12,2) NOT NULL, notes VARCHAR(400),
  version INT NOT NULL, created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB;
CREATE TABLE calls (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, agent VARCHAR(60), queue VARCHAR(24),
  direction VARCHAR(8), started_at DATETIME(6), duration_s INT, outcome VARCHAR(20), summary VARCHAR(400),
  version INT NOT NULL, updated_at DATETIME(6)) ENGINE=InnoDB;
CREATE TABLE latency_probe (id BIGINT PRIMARY KEY, committed_at TIMESTAMP(6) NOT NULL, payload VARCHAR(400)) ENGINE=InnoDB;
CREATE TABLE bigtx (id BIGINT PRIMARY KEY, payload VARCHAR(1100) NOT NULL) ENGINE=InnoDB;
CREATE TABLE marker (id BIGINT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB;`
	if _, err := s.db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("mariadb schema: %w", err)
	}
	return nil
}

func (s *mariadbSource) TributarySource(name string) string {
	return fmt.Sprintf(`  - name: %s
    kind: mysql
    flavor: mariadb
    addr: %q
    user: tributary
    password_env: TRIBUTARY_BENCH_PASSWORD
    server_id: %d
    include: ["%s.*"]
`, name, s.addr, s.serverIDBase+1, s.database)
}

func (s *mariadbSource) DebeziumProps() map[string]string {
	host, port, _ := strings.Cut(s.addr, ":")
	return map[string]string{
		"name":                  "bench-mariadb",
		"connector.class":       "io.debezium.connector.mariadb.MariaDbConnector",
		"database.hostname":     host,
		"database.port":         port,
		"database.user":         dbzUser,
		"database.password":     dbzPassword,
		"database.server.id":    fmt.Sprint(s.serverIDBase + 2),
		"database.include.list": s.database,
		"database.ssl.mode":     "disable",
		// Start at the current position with the tables' structure only;
		// no locks, so no RELOAD / LOCK TABLES grant is needed.
		"snapshot.mode":                         "no_data",
		"snapshot.locking.mode":                 "none",
		"schema.history.internal":               "io.debezium.storage.file.history.FileSchemaHistory",
		"schema.history.internal.file.filename": "", // set by the caller
	}
}

func (s *mariadbSource) Marker(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO marker VALUES (?, 'start here')", id)
	return err
}

func (s *mariadbSource) masterStatus(ctx context.Context) (mysql.Position, error) {
	var p mysql.Position
	var doDB, ignoreDB sql.NullString
	err := s.db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&p.Name, &p.Pos, &doDB, &ignoreDB)
	return p, err
}

func (s *mariadbSource) BeforeWrites(ctx context.Context) (err error) {
	s.from, err = s.masterStatus(ctx)
	return err
}

func (s *mariadbSource) AfterWrites(ctx context.Context) (err error) {
	s.to, err = s.masterStatus(ctx)
	return err
}

func (s *mariadbSource) RawRead(ctx context.Context, rows int64) (Rate, error) {
	return readRawBinlog(ctx, s.addr, "tributary", "tributary", s.serverIDBase+3, s.from, s.to, rows)
}

// BigTx commits one INSERT … SELECT of rows ~1 KB rows.
func (s *mariadbSource) BigTx(ctx context.Context, firstID, rows int64) error {
	_, err := s.db.ExecContext(ctx, fmt.Sprintf(
		"INSERT INTO bigtx SELECT seq + %d, REPEAT(MD5(seq), 32) FROM seq_1_to_%d", firstID, rows))
	return err
}

func (s *mariadbSource) Cleanup(ctx context.Context) error {
	if s.db != nil {
		s.db.Close()
	}
	admin, err := sql.Open("mysql", s.dsn(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err1 := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+s.database)
	_, err2 := admin.ExecContext(ctx, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", dbzUser))
	if err1 != nil {
		return err1
	}
	return err2
}
