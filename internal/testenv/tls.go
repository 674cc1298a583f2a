package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The TLS side of the test bed. scripts/services generates a private CA and
// certificates once under TLSDir, serves TLS on MariaDB and PostgreSQL
// (server.pem; client certificates are verified against ca.pem) and opens
// two more Kafka listeners: SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)
// at KafkaSASLSSLAddr and SSL with client certificates required (mutual
// TLS) at KafkaMTLSAddr. Inter-broker traffic stays on PLAINTEXT.
func KafkaSASLSSLAddr() string { return "127.0.0.1:" + env("TRIBUTARY_KAFKA_SASL_SSL_PORT", "19096") }
func KafkaMTLSAddr() string    { return "127.0.0.1:" + env("TRIBUTARY_KAFKA_SSL_PORT", "19097") }

// Files in TLSDir. server.pem names DNS:localhost and IP:127.0.0.1 (CN
// localhost); client.pem has CN TLSClientCN and extendedKeyUsage
// clientAuth. other-ca.pem is a second, unrelated CA and other-client.pem a
// client certificate it signed (CN TLSClientCN too), which the servers
// refuse; not-pem.txt is not PEM at all, for tests of bad input. All are
// RSA 2048, valid for 10 years.
const (
	TLSCACert          = "ca.pem"
	TLSCAKey           = "ca.key"
	TLSServerCert      = "server.pem"
	TLSServerKey       = "server.key"
	TLSClientCert      = "client.pem"
	TLSClientKey       = "client.key"
	TLSOtherCACert     = "other-ca.pem"
	TLSOtherCAKey      = "other-ca.key"
	TLSOtherClientCert = "other-client.pem"
	TLSOtherClientKey  = "other-client.key"
	TLSNotPEM          = "not-pem.txt"

	// TLSClientCN is the common name of client.pem and other-client.pem.
	TLSClientCN = "tributary_cert"
)

// Accounts scripts/services creates for the TLS tests. The MariaDB users and
// PostgreSQL roles have the same privileges as MySQLCDCUser and PGCDCUser.
const (
	// Kafka, on the SASL_SSL listener. The SCRAM user has credentials for
	// both SCRAM-SHA-512 and SCRAM-SHA-256.
	KafkaSCRAMUser     = "tributary"
	KafkaSCRAMPassword = "tributary-scram"
	KafkaPlainUser     = "tributary"
	KafkaPlainPassword = "tributary-plain"

	// MariaDB: MySQLSSLUser is REQUIRE SSL, MySQLX509User REQUIRE X509 (a
	// client certificate signed by ca.pem, such as client.pem).
	MySQLSSLUser      = "tributary_ssl"
	MySQLSSLPassword  = "ssl-secret-5k2q"
	MySQLX509User     = "tributary_x509"
	MySQLX509Password = "x509-secret-8r4m"

	// PostgreSQL, for normal and replication connections: PGSSLUser connects
	// only over TLS; PGCertUser only over TLS with a client certificate
	// signed by ca.pem whose CN is its name (client.pem), and its password
	// (scram-sha-256 clientcert=verify-full).
	PGSSLUser      = "tributary_ssl"
	PGSSLPassword  = "ssl-secret-5k2q"
	PGCertUser     = TLSClientCN
	PGCertPassword = "cert-secret-3j7w"
)

var moduleRoot = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
})

// ServicesDir is the absolute path of the directory scripts/services keeps
// its servers' state in: $TRIBUTARY_SERVICES_DIR (relative to the module
// root, where make runs the script, if not absolute), by default .services
// at the module root.
func ServicesDir() string {
	dir := env("TRIBUTARY_SERVICES_DIR", ".services")
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(moduleRoot(), dir)
	}
	return filepath.Clean(dir)
}

// TLSDir is the absolute path of the test certificates' directory,
// ServicesDir()/tls.
func TLSDir() string { return filepath.Join(ServicesDir(), "tls") }

// TLSPath is the absolute path of one of the files in TLSDir, say TLSCACert.
func TLSPath(name string) string { return filepath.Join(TLSDir(), name) }

// TLSConfig is a client configuration that trusts only ca.pem and, if
// clientCert, presents client.pem. ServerName is left empty (clients such as
// pgx and go-sql-driver/mysql fill in the host they dial; go-mysql's binlog
// syncer needs it set). Missing files fail the test, naming the script that
// makes them.
func TLSConfig(t testing.TB, clientCert bool) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(TLSPath(TLSCACert))
	if err != nil {
		t.Fatalf("test CA: %v: generate it with `scripts/services up` (make test does)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("test CA %s holds no PEM certificate", TLSPath(TLSCACert))
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if clientCert {
		cert, err := tls.LoadX509KeyPair(TLSPath(TLSClientCert), TLSPath(TLSClientKey))
		if err != nil {
			t.Fatalf("test client certificate: %v: generate it with `scripts/services up` (make test does)", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}
