package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// A user created REQUIRE SSL streams over verify-full TLS: the SQL
// connections and the binlog connection both carry the tls block (the
// server refuses the user on any plaintext connection).
func TestStreamOverVerifiedTLS(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
	s := testSource(t, name, func(c *Config) {
		c.User, c.Password = testenv.MySQLSSLUser, testenv.MySQLSSLPassword
		c.TLS = tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: testenv.TLSPath(testenv.TLSCACert)}
	})
	from, err := s.CurrentPosition(context.Background())
	if err != nil {
		t.Fatalf("CurrentPosition over TLS: %v", err)
	}
	rec, streamErr := startStream(t, s, from)
	testenv.Exec(t, db, "INSERT INTO t VALUES (1, 'over tls')")
	testenv.Eventually(t, 20*time.Second, "the insert over TLS", func() bool {
		if err := streamErr(); err != nil {
			t.Fatalf("Stream over TLS: %v", err)
		}
		return len(rec.changesFor("t")) == 1
	})
}

// Every TLS misconfiguration stops the source with a permanent error that
// names the key and the cause; none falls back to plaintext.
func TestTLSRefusalsNameTheKey(t *testing.T) {
	t.Parallel()
	ca, otherCA := testenv.TLSPath(testenv.TLSCACert), testenv.TLSPath(testenv.TLSOtherCACert)
	tests := []struct {
		name       string
		user, pass string
		tls        tlsconf.Client
		want       []string
	}{
		{"server certificate from another CA", testenv.MySQLSSLUser, testenv.MySQLSSLPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: otherCA}, []string{"sources[test].tls.ca_file", "not signed by a CA of ca_file"}},
		{"host name mismatch", testenv.MySQLSSLUser, testenv.MySQLSSLPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca, ServerName: "db.example.com"}, []string{"sources[test].tls.server_name", "not valid for this host name"}},
		{"TLS required by the user, mode disable", testenv.MySQLSSLUser, testenv.MySQLSSLPassword,
			tlsconf.Client{Mode: tlsconf.Disable}, []string{"Access denied", "sources[test].tls.mode is disable"}},
		{"client certificate required, none configured", testenv.MySQLX509User, testenv.MySQLX509Password,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca}, []string{"Access denied", "sources[test].user"}},
		{"client certificate from another CA", testenv.MySQLX509User, testenv.MySQLX509Password,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca, CertFile: testenv.TLSPath(testenv.TLSOtherClientCert), KeyFile: testenv.TLSPath(testenv.TLSOtherClientKey)},
			[]string{"sources[test].tls.cert_file", "refused the client certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testSource(t, "unused", func(c *Config) { c.User, c.Password, c.TLS = tt.user, tt.pass, tt.tls })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := s.CurrentPosition(ctx)
			var perm *capture.PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("CurrentPosition error %v (%T), want a *capture.PermanentError (diagnosis: %v, driver: %v)", err, err, s.diagnoseTLS(), s.cfg.driverLog.lastError())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.pass) && tt.pass != tt.user {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}
}

// A client certificate the server trusts is accepted from a REQUIRE X509
// user.
func TestClientCertificateAccepted(t *testing.T) {
	t.Parallel()
	s := testSource(t, "unused", func(c *Config) {
		c.User, c.Password = testenv.MySQLX509User, testenv.MySQLX509Password
		c.TLS = tlsconf.Client{Mode: tlsconf.VerifyCA, CAFile: testenv.TLSPath(testenv.TLSCACert),
			CertFile: testenv.TLSPath(testenv.TLSClientCert), KeyFile: testenv.TLSPath(testenv.TLSClientKey)}
	})
	if _, err := s.CurrentPosition(context.Background()); err != nil {
		t.Fatalf("CurrentPosition with a client certificate: %v", err)
	}
}
