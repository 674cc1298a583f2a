package e2e

import (
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// securedEnv holds the secrets the secured daemons read from the
// environment; every one of them must stay out of their output.
var securedEnv = []string{
	"TEST_KAFKA_SCRAM=" + testenv.KafkaSCRAMPassword,
	"TEST_MYSQL_SSL=" + testenv.MySQLSSLPassword,
	"TEST_MYSQL_X509=" + testenv.MySQLX509Password,
	"TEST_PG_SSL=" + testenv.PGSSLPassword,
}

func secrets() []string {
	out := make([]string, len(securedEnv))
	for i, kv := range securedEnv {
		out[i] = kv[strings.IndexByte(kv, '=')+1:]
	}
	return out
}

// securedTable creates table name (id, v, n) with rows in db, for a
// snapshot to read.
func securedTable(t *testing.T, db *sql.DB, name string, rows int) {
	t.Helper()
	testenv.Exec(t, db, "CREATE TABLE "+name+" (id INT PRIMARY KEY, v VARCHAR(40), n INT)")
	var vals []string
	for i := 1; i <= rows; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'row %d', %d)", i, i, i))
	}
	testenv.Exec(t, db, "INSERT INTO "+name+" VALUES "+strings.Join(vals, ","))
}

// churn updates, deletes and inserts rows of table while the daemon
// streams.
func churn(t *testing.T, db *sql.DB, table string, rows, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	next := rows + 1
	for i := 0; i < n; i++ {
		id := 1 + r.IntN(rows)
		var err error
		switch r.IntN(3) {
		case 0:
			_, err = db.Exec(fmt.Sprintf("UPDATE %s SET v = 'upd %d', n = n + 1 WHERE id = %d", table, i, id))
		case 1:
			_, err = db.Exec(fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, id))
		default:
			_, err = db.Exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, 'new %d', 0)", table, next, i))
			next++
		}
		if err != nil {
			t.Fatalf("churn %s: %v", table, err)
		}
	}
}

// mysqlDatabase creates the setup's MariaDB database and returns an admin
// connection using it.
func mysqlDatabase(t *testing.T, s *setup) *sql.DB {
	t.Helper()
	my, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	my.SetMaxOpenConns(1)
	testenv.Exec(t, my, "CREATE DATABASE "+s.Database, "USE "+s.Database)
	t.Cleanup(func() {
		my.Exec("DROP DATABASE IF EXISTS " + s.Database)
		my.Close()
	})
	return my
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func securedConfig(s *setup, kafka, sources string) string {
	return fmt.Sprintf(`
checkpoints: {dir: %q}
kafka:
%s
  partitions: 3
  write_timeout: 5s
  max_attempts: 3
topics: {prefix: %q}
pipeline: {checkpoint_interval: 100ms, restart_backoff_min: 200ms, restart_backoff_max: 2s}
log: {level: debug}
admin: {addr: "127.0.0.1:0"}
sources:%s`, s.CheckDir, kafka, s.Prefix, sources)
}

// waitVerified runs `tributary verify` for source until it reports no
// differences.
func waitVerified(t *testing.T, cfg, source string) {
	t.Helper()
	var out string
	deadline := time.Now().Add(90 * time.Second)
	for {
		var err error
		out, err = runCLIEnv(t, securedEnv, "verify", "-c", cfg, "--source", source, "--quiet", "--rechecks", "2", "--recheck-wait", "1s")
		if err == nil && strings.Contains(out, "no differences") {
			t.Logf("verify %s: %s", source, strings.TrimSpace(tail(out, 300)))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify %s over the secured connections still differs:\n%s", source, tail(out, 3000))
		}
		time.Sleep(time.Second) // a retry pace, not synchronisation: verify itself checks the state
	}
}

func runCLIEnv(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	d := startDaemonEnv(t, env, args...)
	<-d.waited
	return d.logs.String(), d.err
}

func noSecrets(t *testing.T, what, output string) {
	t.Helper()
	for _, secret := range secrets() {
		if strings.Contains(output, secret) {
			t.Errorf("%s shows a password (%q)", what, secret)
		}
	}
}

// The whole path secured: Kafka over SASL_SSL with SCRAM-SHA-512, MariaDB
// as a REQUIRE SSL user and PostgreSQL as a hostssl-only role, both over
// verify-full; a snapshot and a mixed workload; `verify` over the same
// settings finds the topics equal to the tables, and no password shows in
// any output or in /status and /metrics.
func TestSecuredEndToEnd(t *testing.T) {
	testenv.RequireTCP(t, "Kafka SASL_SSL", testenv.KafkaSASLSSLAddr())
	s := newSetup(t)
	my := mysqlDatabase(t, s)
	securedTable(t, my, "accounts", 300)

	pg := &pgSetup{setup: s}
	admin, err := sql.Open("pgx", testenv.PGURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Exec(t, admin, "CREATE DATABASE "+s.Database, "GRANT CONNECT ON DATABASE "+s.Database+" TO "+testenv.PGSSLUser)
	t.Cleanup(func() {
		admin.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", pg.slot())
		admin.Exec("DROP DATABASE IF EXISTS " + s.Database + " WITH (FORCE)")
		admin.Close()
	})
	pgdb, err := sql.Open("pgx", testenv.PGURL(s.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer pgdb.Close()
	securedTable(t, pgdb, "orders", 300)
	testenv.Exec(t, pgdb, "GRANT SELECT ON orders TO "+testenv.PGSSLUser, "CREATE PUBLICATION "+pg.publication()+" FOR TABLE orders")

	ca := testenv.TLSPath(testenv.TLSCACert)
	cfg := writeFile(t, s.ConfigDir, "secured.yaml", securedConfig(s, fmt.Sprintf(`  brokers: [%q]
  tls: {enabled: true, ca_file: %q}
  sasl: {mechanism: SCRAM-SHA-512, username: %s, password_env: TEST_KAFKA_SCRAM}`, testenv.KafkaSASLSSLAddr(), ca, testenv.KafkaSCRAMUser),
		fmt.Sprintf(`
  - name: crm
    addr: %q
    user: %s
    password_env: TEST_MYSQL_SSL
    server_id: %d
    include: ["%s.*"]
    heartbeat: 1s
    read_timeout: 5s
    snapshot: {mode: initial, chunk_size: 100, rows_per_second: 100000}
    tls: {mode: verify-full, ca_file: %q}
  - name: orders
    kind: postgres
    addr: %q
    user: %s
    password_env: TEST_PG_SSL
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    heartbeat: 1s
    status_interval: 200ms
    snapshot: {mode: initial, chunk_size: 100, rows_per_second: 100000}
    tls: {mode: verify-full, ca_file: %q}
`, testenv.MySQLAddr(), testenv.MySQLSSLUser, s.ServerID, s.Database, ca,
			testenv.PGAddr(), testenv.PGSSLUser, s.Database, pg.slot(), pg.publication(), ca)))

	out, err := runCLIEnv(t, securedEnv, "validate", "-c", cfg)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	noSecrets(t, "validate", out)

	d := startDaemonEnv(t, securedEnv, "run", "-c", cfg)
	adminAddr := d.adminAddr(t)
	d.waitStreaming(t) // both sources
	churn(t, my, "accounts", 300, 150, 1)
	churn(t, pgdb, "orders", 300, 150, 2)
	waitVerified(t, cfg, "crm")
	waitVerified(t, cfg, "orders")

	for _, path := range []string{"/status", "/metrics"} {
		_, body := httpGet(t, "http://"+adminAddr+path)
		noSecrets(t, path, body)
	}
	// How Kafka is reached is said only in the start line, for the operator.
	if !strings.Contains(d.logs.String(), `kafka="SASL_SSL (SCRAM-SHA-512)"`) {
		t.Errorf("the start log does not say how Kafka is reached")
	}
	d.stop(t)
	noSecrets(t, "the daemon's log", d.logs.String())
}

// Mutual TLS to Kafka (the SSL listener requires a client certificate)
// and a MariaDB user that requires one too (REQUIRE X509).
func TestMutualTLSEndToEnd(t *testing.T) {
	testenv.RequireTCP(t, "Kafka SSL", testenv.KafkaMTLSAddr())
	s := newSetup(t)
	my := mysqlDatabase(t, s)
	securedTable(t, my, "calls", 100)

	ca, cert, key := testenv.TLSPath(testenv.TLSCACert), testenv.TLSPath(testenv.TLSClientCert), testenv.TLSPath(testenv.TLSClientKey)
	cfg := writeFile(t, s.ConfigDir, "mtls.yaml", securedConfig(s, fmt.Sprintf(`  brokers: [%q]
  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}`, testenv.KafkaMTLSAddr(), ca, cert, key),
		fmt.Sprintf(`
  - name: calls
    addr: %q
    user: %s
    password_env: TEST_MYSQL_X509
    server_id: %d
    include: ["%s.*"]
    heartbeat: 1s
    read_timeout: 5s
    snapshot: {mode: initial}
    tls: {mode: verify-full, ca_file: %q, cert_file: %q, key_file: %q}
`, testenv.MySQLAddr(), testenv.MySQLX509User, s.ServerID, s.Database, ca, cert, key)))
	d := startDaemonEnv(t, securedEnv, "run", "-c", cfg)
	d.waitStreaming(t)
	churn(t, my, "calls", 100, 60, 3)
	waitVerified(t, cfg, "calls")
	d.stop(t)
	noSecrets(t, "the daemon's log", d.logs.String())
}

// recordingProxy forwards TCP connections to target and keeps every byte
// clients sent.
type recordingProxy struct {
	ln   net.Listener
	mu   sync.Mutex
	sent [][]byte // per connection
}

func startRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			i := len(p.sent)
			p.sent = append(p.sent, nil)
			p.mu.Unlock()
			go func() { io.Copy(c, up); c.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						p.mu.Lock()
						p.sent[i] = append(p.sent[i], buf[:n]...)
						p.mu.Unlock()
						up.Write(buf[:n])
					}
					if err != nil {
						up.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *recordingProxy) conns() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][]byte, len(p.sent))
	for i, b := range p.sent {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// The secured listener really is what carries the traffic: pointed at the
// SASL_SSL port with TLS off, the daemon stops at start naming
// kafka.tls.enabled and never streams; with TLS on, every byte it sends
// through a proxy in front of that port is TLS records (a handshake
// first), with neither the topic names nor the SCRAM password in the
// clear. (The proxy carries the bootstrap connections; the listener's
// metadata advertises only its own SASL_SSL address, so the produce
// connections go to that TLS-only port directly, never to PLAINTEXT.)
func TestKafkaTrafficIsEncrypted(t *testing.T) {
	testenv.RequireTCP(t, "Kafka SASL_SSL", testenv.KafkaSASLSSLAddr())
	s := newSetup(t)
	my := mysqlDatabase(t, s)
	securedTable(t, my, "leads", 20)
	sources := fmt.Sprintf(`
  - name: crm
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    snapshot: {mode: initial}
`, testenv.MySQLAddr(), testenv.MySQLCDCUser, s.ServerID, s.Database)
	sasl := fmt.Sprintf("  sasl: {mechanism: SCRAM-SHA-512, username: %s, password_env: TEST_KAFKA_SCRAM}", testenv.KafkaSCRAMUser)

	plain := writeFile(t, s.ConfigDir, "tls-off.yaml", securedConfig(s, fmt.Sprintf("  brokers: [%q]\n%s", testenv.KafkaSASLSSLAddr(), sasl), sources))
	d := startDaemonEnv(t, securedEnv, "run", "-c", plain)
	select {
	case <-d.waited:
	case <-time.After(time.Minute):
		t.Fatal("the daemon still runs against a SASL_SSL listener with kafka.tls.enabled false")
	}
	// The daemon has exited, so its output is the only state left: it must
	// name the key and never have reached streaming.
	if logs := d.logs.String(); d.err == nil || !strings.Contains(logs, "kafka.tls.enabled") || strings.Contains(logs, "msg=streaming") {
		t.Fatalf("exit %v; want a start failure naming kafka.tls.enabled and no streaming:\n%s", d.err, tail(logs, 2000))
	}

	proxy := startRecordingProxy(t, testenv.KafkaSASLSSLAddr())
	secured := writeFile(t, s.ConfigDir, "tls-on.yaml", securedConfig(s, fmt.Sprintf("  brokers: [%q]\n  tls: {enabled: true, ca_file: %q}\n%s",
		proxy.ln.Addr().String(), testenv.TLSPath(testenv.TLSCACert), sasl), sources))
	d = startDaemonEnv(t, securedEnv, "run", "-c", secured)
	d.waitStreaming(t)
	waitVerified(t, secured, "crm")
	d.stop(t)
	conns := proxy.conns()
	if len(conns) == 0 {
		t.Fatal("nothing went through the proxy")
	}
	for i, b := range conns {
		if len(b) == 0 {
			continue
		}
		if b[0] != 0x16 || b[1] != 0x03 {
			t.Errorf("connection %d began with % x, not a TLS handshake record", i, b[:min(8, len(b))])
		}
		for _, clear := range []string{s.Database, testenv.KafkaSCRAMPassword, testenv.KafkaSCRAMUser + "\x00"} {
			if strings.Contains(string(b), clear) {
				t.Errorf("connection %d carried %q in the clear", i, clear)
			}
		}
	}
}
