package postgres

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

// A role that pg_hba.conf admits only over TLS (hostssl) streams over
// verify-full: the replication and the query connection both carry the
// tls block.
func TestStreamOverVerifiedTLS(t *testing.T) {
	t.Parallel()
	pgServer(t).RequireTLS(t)
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "CREATE PUBLICATION pub_"+name+" FOR TABLE t",
		"GRANT CONNECT ON DATABASE "+name+" TO "+testenv.PGSSLUser, "GRANT SELECT ON t TO "+testenv.PGSSLUser)
	s := testSource(t, name, func(c *Config) {
		c.User, c.Password, c.SSLMode = testenv.PGSSLUser, testenv.PGSSLPassword, ""
		c.TLS = tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: testenv.TLSPath(testenv.TLSCACert)}
	})
	rec := &recorder{}
	streamErr, _ := startStream(t, s, resumeAt(currentPosition(t, s)), rec)
	testenv.Exec(t, db, "INSERT INTO t VALUES (1, 'over tls')")
	waitChanges(t, rec, streamErr, "t", 1)
}

// Every TLS misconfiguration stops the source with a permanent error that
// names the key and the cause; none falls back to plaintext.
func TestTLSRefusalsNameTheKey(t *testing.T) {
	t.Parallel()
	pgServer(t).RequireTLS(t)
	_, name := testDB(t)
	ca, otherCA := testenv.TLSPath(testenv.TLSCACert), testenv.TLSPath(testenv.TLSOtherCACert)
	tests := []struct {
		name       string
		user, pass string
		tls        tlsconf.Client
		want       []string
	}{
		{"server certificate from another CA", testenv.PGSSLUser, testenv.PGSSLPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: otherCA}, []string{"sources[test].tls.ca_file", "not signed by a CA of ca_file"}},
		{"host name mismatch", testenv.PGSSLUser, testenv.PGSSLPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca, ServerName: "db.example.com"}, []string{"sources[test].tls.server_name", "not valid for this host name"}},
		{"hostssl role, mode disable", testenv.PGSSLUser, testenv.PGSSLPassword,
			tlsconf.Client{Mode: tlsconf.Disable}, []string{"no encryption", "sources[test].tls.mode is disable"}},
		{"client certificate required, none configured", testenv.PGCertUser, testenv.PGCertPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca}, []string{"requires a valid client certificate", "sources[test].tls.cert_file"}},
		{"client certificate from another CA", testenv.PGCertUser, testenv.PGCertPassword,
			tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: ca, CertFile: testenv.TLSPath(testenv.TLSOtherClientCert), KeyFile: testenv.TLSPath(testenv.TLSOtherClientKey)},
			[]string{"requires a valid client certificate", "sources[test].tls.cert_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testSource(t, name, func(c *Config) { c.User, c.Password, c.SSLMode, c.TLS = tt.user, tt.pass, "", tt.tls })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := s.CurrentPosition(ctx)
			var perm *capture.PermanentError
			if !errors.As(err, &perm) {
				t.Fatalf("CurrentPosition error %v (%T), want a *capture.PermanentError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A client certificate the server trusts, with the role's password, is
// accepted for a clientcert=verify-full role.
func TestClientCertificateAccepted(t *testing.T) {
	t.Parallel()
	pgServer(t).RequireTLS(t)
	db, name := testDB(t)
	testenv.Exec(t, db, "GRANT CONNECT ON DATABASE "+name+" TO "+testenv.PGCertUser)
	s := testSource(t, name, func(c *Config) {
		c.User, c.Password, c.SSLMode = testenv.PGCertUser, testenv.PGCertPassword, ""
		c.TLS = tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: testenv.TLSPath(testenv.TLSCACert),
			CertFile: testenv.TLSPath(testenv.TLSClientCert), KeyFile: testenv.TLSPath(testenv.TLSClientKey)}
	})
	if _, err := s.CurrentPosition(context.Background()); err != nil {
		t.Fatalf("CurrentPosition with a client certificate: %v", err)
	}
}
