package testenv

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// These smoke tests prove the TLS side of the test bed: each server accepts
// the accounts TLS tests use with the certificates scripts/services made, and
// refuses them without.

func TestTLSFiles(t *testing.T) {
	for _, name := range []string{TLSCACert, TLSCAKey, TLSServerCert, TLSServerKey, TLSClientCert, TLSClientKey,
		TLSOtherCACert, TLSOtherCAKey, TLSOtherClientCert, TLSOtherClientKey, TLSNotPEM} {
		if _, err := os.Stat(TLSPath(name)); err != nil {
			t.Errorf("%v: generate it with `scripts/services up`", err)
		}
	}
	cfg := TLSConfig(t, true)
	leaf := cfg.Certificates[0].Leaf
	if leaf == nil || leaf.Subject.CommonName != TLSClientCN {
		t.Fatalf("client certificate subject = %v, want CN %s", leaf, TLSClientCN)
	}
	if _, err := tls.LoadX509KeyPair(TLSPath(TLSNotPEM), TLSPath(TLSClientKey)); err == nil {
		t.Fatalf("%s loads as a certificate", TLSNotPEM)
	}
}

// otherClientTLS trusts ca.pem but presents other-client.pem, which the
// servers' CA did not sign.
func otherClientTLS(t *testing.T) *tls.Config {
	t.Helper()
	cfg := TLSConfig(t, false)
	cert, err := tls.LoadX509KeyPair(TLSPath(TLSOtherClientCert), TLSPath(TLSOtherClientKey))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	return cfg
}

func kafkaMetadata(ctx context.Context, addr string, tr *kafka.Transport) (*kafka.MetadataResponse, error) {
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return (&kafka.Client{Addr: kafka.TCP(addr), Transport: tr}).Metadata(ctx, &kafka.MetadataRequest{})
}

func TestKafkaTLSSASLSmoke(t *testing.T) {
	RequireTCP(t, "Kafka (SASL_SSL)", KafkaSASLSSLAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mech, err := scram.Mechanism(scram.SHA512, KafkaSCRAMUser, KafkaSCRAMPassword)
	if err != nil {
		t.Fatal(err)
	}
	tr := &kafka.Transport{TLS: TLSConfig(t, false), SASL: mech}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(KafkaSASLSSLAddr()), Transport: tr}
	topic := UniqueName(t, "tls_smoke")
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatalf("create topic over SASL_SSL (SCRAM-SHA-512): %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() {
		client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	})
	w := &kafka.Writer{Addr: kafka.TCP(KafkaSASLSSLAddr()), Transport: tr, Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k1"), Value: []byte("over SASL_SSL")}); err != nil {
		t.Fatalf("produce: %v", err)
	}
	over := NewTopicAt(KafkaSASLSSLAddr(), topic, &kafka.Transport{TLS: TLSConfig(t, false), SASL: mech})
	defer over.Close()
	recs := over.ReadUntil(t, 0, kafka.FirstOffset, time.Minute, func(recs []Record) bool { return len(recs) >= 1 })
	if m := recs[0]; string(m.Key) != "k1" || string(m.Value) != "over SASL_SSL" {
		t.Fatalf("consumed key=%q value=%q", m.Key, m.Value)
	}

	// The other mechanisms answer; a wrong password does not.
	sha256, err := scram.Mechanism(scram.SHA256, KafkaSCRAMUser, KafkaSCRAMPassword)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := scram.Mechanism(scram.SHA512, KafkaSCRAMUser, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mech sasl.Mechanism
		ok   bool
	}{
		{"SCRAM-SHA-256", sha256, true},
		{"PLAIN", plain.Mechanism{Username: KafkaPlainUser, Password: KafkaPlainPassword}, true},
		{"SCRAM-SHA-512 wrong password", wrong, false},
		{"PLAIN wrong password", plain.Mechanism{Username: KafkaPlainUser, Password: KafkaSCRAMPassword}, false},
	} {
		md, err := kafkaMetadata(ctx, KafkaSASLSSLAddr(), &kafka.Transport{TLS: TLSConfig(t, false), SASL: c.mech})
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: metadata: %v", c.name, err)
		case c.ok && (len(md.Brokers) != 1 || fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != KafkaSASLSSLAddr()):
			t.Errorf("%s: brokers = %+v, want the SASL_SSL listener advertised", c.name, md.Brokers)
		case !c.ok && !errors.Is(err, kafka.SASLAuthenticationFailed):
			t.Errorf("%s: metadata: %v, want %v", c.name, err, kafka.SASLAuthenticationFailed)
		}
	}
	// A server certificate from an unknown CA is refused by the client.
	other := TLSConfig(t, false)
	other.RootCAs = nil
	if _, err := kafkaMetadata(ctx, KafkaSASLSSLAddr(), &kafka.Transport{TLS: other, SASL: mech}); err == nil {
		t.Errorf("SASL_SSL with the system roots only: no error, want an unknown authority")
	}
}

func TestKafkaMTLSSmoke(t *testing.T) {
	RequireTCP(t, "Kafka (SSL)", KafkaMTLSAddr())
	ctx := context.Background()
	md, err := kafkaMetadata(ctx, KafkaMTLSAddr(), &kafka.Transport{TLS: TLSConfig(t, true)})
	if err != nil {
		t.Fatalf("metadata over mutual TLS with client.pem: %v", err)
	}
	if len(md.Brokers) != 1 || fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != KafkaMTLSAddr() {
		t.Fatalf("brokers = %+v, want the SSL listener %s advertised", md.Brokers, KafkaMTLSAddr())
	}
	if _, err := kafkaMetadata(ctx, KafkaMTLSAddr(), &kafka.Transport{TLS: TLSConfig(t, false)}); err == nil {
		t.Fatalf("metadata without a client certificate: no error, want a refusal")
	} else {
		t.Logf("without a client certificate: %v", err)
	}
	if _, err := kafkaMetadata(ctx, KafkaMTLSAddr(), &kafka.Transport{TLS: otherClientTLS(t)}); err == nil {
		t.Fatalf("metadata with other-client.pem: no error, want a refusal")
	} else {
		t.Logf("with a certificate of another CA: %v", err)
	}
}

func TestMariaDBTLSSmoke(t *testing.T) {
	RequireTCP(t, "MariaDB", MySQLAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tlsName, certName, otherName := UniqueName(t, "ca"), UniqueName(t, "cert"), UniqueName(t, "other")
	for name, cfg := range map[string]*tls.Config{tlsName: TLSConfig(t, false), certName: TLSConfig(t, true), otherName: otherClientTLS(t)} {
		if err := mysql.RegisterTLSConfig(name, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mysql.DeregisterTLSConfig(name) })
	}
	open := func(user, password, tlsParam string) (*sql.DB, error) {
		dsn := fmt.Sprintf("%s:%s@tcp(%s)/?timeout=5s", user, password, MySQLAddr())
		if tlsParam != "" {
			dsn += "&tls=" + tlsParam
		}
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	cipher := func(db *sql.DB) string {
		var name, value string
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_version'").Scan(&name, &value); err != nil {
			t.Fatal(err)
		}
		return value
	}
	refused := func(what string, err error) {
		t.Helper()
		var me *mysql.MySQLError
		if err == nil {
			t.Errorf("%s: connected, want a refusal", what)
		} else if errors.As(err, &me) && me.Number != 1045 {
			t.Errorf("%s: %v, want access denied (1045)", what, err)
		}
	}

	db, err := open(MySQLSSLUser, MySQLSSLPassword, tlsName)
	if err != nil {
		t.Fatalf("%s over TLS (verified against ca.pem): %v", MySQLSSLUser, err)
	}
	defer db.Close()
	if v := cipher(db); !strings.HasPrefix(v, "TLS") {
		t.Fatalf("Ssl_version = %q, want TLS", v)
	}
	_, err = open(MySQLSSLUser, MySQLSSLPassword, "")
	refused(MySQLSSLUser+" without TLS", err)

	// The binlog as Tributary reads it: go-mysql over TLS, with the CDC grants.
	var file string
	var pos uint32
	var ignored1, ignored2 any
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &ignored1, &ignored2); err != nil {
		t.Fatalf("show master status as %s: %v", MySQLSSLUser, err)
	}
	host, port := splitAddr(t, MySQLAddr())
	binlogTLS := TLSConfig(t, false)
	binlogTLS.ServerName = host // go-mysql, unlike the SQL driver, does not fill it in
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: ServerID(), Flavor: gomysql.MariaDBFlavor, Host: host, Port: port,
		User: MySQLSSLUser, Password: MySQLSSLPassword, TLSConfig: binlogTLS,
	})
	defer syncer.Close()
	if _, err := syncer.StartSync(gomysql.Position{Name: file, Pos: pos}); err != nil {
		t.Fatalf("binlog over TLS as %s: %v", MySQLSSLUser, err)
	}

	x, err := open(MySQLX509User, MySQLX509Password, certName)
	if err != nil {
		t.Fatalf("%s with client.pem: %v", MySQLX509User, err)
	}
	x.Close()
	_, err = open(MySQLX509User, MySQLX509Password, tlsName)
	refused(MySQLX509User+" over TLS without a client certificate", err)
	if _, err := open(MySQLX509User, MySQLX509Password, otherName); err == nil {
		t.Errorf("%s with other-client.pem: connected, want a refusal", MySQLX509User)
	}
}

func TestPostgresTLSSmoke(t *testing.T) {
	RequireTCP(t, "PostgreSQL", PGAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host, port := splitAddr(t, PGAddr())
	connect := func(user, password, params string, repl bool) (*pgconn.PgConn, error) {
		s := fmt.Sprintf("host=%s port=%d dbname=postgres user=%s password=%s connect_timeout=5 %s", host, port, user, password, params)
		if repl {
			s += " replication=database"
		}
		return pgconn.Connect(ctx, s)
	}
	verify := "sslmode=verify-full sslrootcert=" + TLSPath(TLSCACert)
	withCert := verify + " sslcert=" + TLSPath(TLSClientCert) + " sslkey=" + TLSPath(TLSClientKey)
	withOther := verify + " sslcert=" + TLSPath(TLSOtherClientCert) + " sslkey=" + TLSPath(TLSOtherClientKey)

	for _, repl := range []bool{false, true} {
		kind := "connection"
		query := "SELECT ssl::text, coalesce(client_dn, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
		if repl {
			kind, query = "replication connection", "IDENTIFY_SYSTEM"
		}
		accepted := func(user, password, params, wantDN string) {
			t.Helper()
			c, err := connect(user, password, params, repl)
			if err != nil {
				t.Errorf("%s %s (%s): %v", user, kind, params, err)
				return
			}
			defer c.Close(ctx)
			res, err := c.Exec(ctx, query).ReadAll()
			if err != nil {
				t.Errorf("%s %s: %s: %v", user, kind, query, err)
				return
			}
			if !repl {
				if got := fmt.Sprintf("%s %s", res[0].Rows[0][0], res[0].Rows[0][1]); got != "true "+wantDN {
					t.Errorf("%s: pg_stat_ssl ssl, client_dn = %q, want %q", user, got, "true "+wantDN)
				}
			}
		}
		refused := func(user, password, params, why string) {
			t.Helper()
			c, err := connect(user, password, params, repl)
			if err == nil {
				c.Close(ctx)
				t.Errorf("%s %s (%s): connected, want a refusal (%s)", user, kind, params, why)
				return
			}
			var pe *pgconn.PgError
			if why != "" && !(errors.As(err, &pe) && pe.Code == "28000" && strings.Contains(pe.Message, why)) {
				t.Errorf("%s %s (%s): %v, want 28000 %q", user, kind, params, err, why)
			}
		}
		accepted(PGSSLUser, PGSSLPassword, verify, "")
		refused(PGSSLUser, PGSSLPassword, "sslmode=disable", "no encryption")
		accepted(PGCertUser, PGCertPassword, withCert, "/CN="+TLSClientCN)
		refused(PGCertUser, PGCertPassword, verify, "connection requires a valid client certificate")
		refused(PGCertUser, PGCertPassword, "sslmode=disable", "no encryption")
		refused(PGCertUser, PGCertPassword, withOther, "") // the TLS handshake fails: unknown CA
		refused(PGCertUser, "wrong", withCert, "")
	}
}
