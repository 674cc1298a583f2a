package postgres

import (
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

func TestTLSBlockReachesEveryConnection(t *testing.T) {
	t.Parallel()
	certs := testenv.WriteCerts(t)
	tests := []struct {
		name     string
		cfg      Config
		sslmode  string
		skip     bool // InsecureSkipVerify of the first attempt
		fallback bool // a plaintext fallback attempt
		sni      string
	}{
		{"default prefer", Config{}, "prefer", true, true, ""},
		{"sslmode alias", Config{SSLMode: "disable"}, "disable", false, false, ""},
		{"verify-full", Config{TLS: tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: certs.CA}}, "verify-full", false, false, "127.0.0.1"},
		{"verify-full with server_name", Config{TLS: tlsconf.Client{Mode: tlsconf.VerifyFull, CAFile: certs.CA, ServerName: "localhost",
			CertFile: certs.ClientCert, KeyFile: certs.ClientKey}}, "verify-full", false, false, "localhost"},
		{"verify-ca", Config{TLS: tlsconf.Client{Mode: tlsconf.VerifyCA, CAFile: certs.CA}}, "verify-ca", true, false, ""},
	}
	for _, tt := range tests {
		c := tt.cfg
		c.Addr, c.User, c.Password, c.Database = "127.0.0.1:5432", "u", "pw", "d"
		s := &Source{name: "orders", cfg: c}
		if got := c.sslMode(); got != tt.sslmode {
			t.Errorf("%s: sslmode %q, want %q", tt.name, got, tt.sslmode)
		}
		for _, repl := range []bool{false, true} {
			pc, err := s.pgconnConfig(repl)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if tt.sslmode == "disable" {
				if pc.TLSConfig != nil {
					t.Errorf("%s: TLS with sslmode disable", tt.name)
				}
				continue
			}
			if pc.TLSConfig == nil {
				t.Fatalf("%s: no TLS", tt.name)
			}
			if pc.TLSConfig.InsecureSkipVerify != tt.skip || pc.TLSConfig.ServerName != tt.sni {
				t.Errorf("%s: skip verify %v, server name %q", tt.name, pc.TLSConfig.InsecureSkipVerify, pc.TLSConfig.ServerName)
			}
			if got := len(pc.Fallbacks) > 0 && pc.Fallbacks[len(pc.Fallbacks)-1].TLSConfig == nil; got != tt.fallback {
				t.Errorf("%s: plaintext fallback %v, want %v", tt.name, got, tt.fallback)
			}
			if c.TLS.CertFile != "" && len(pc.TLSConfig.Certificates) != 1 {
				t.Errorf("%s: the client certificate was not loaded", tt.name)
			}
		}
		if _, err := s.pgxConfig(); err != nil {
			t.Errorf("%s: pgx config: %v", tt.name, err)
		}
	}
}

func TestTLSAndSSLModeTogetherRefused(t *testing.T) {
	t.Parallel()
	c := Config{Addr: "127.0.0.1:5432", User: "u", Database: "d", SSLMode: "require", TLS: tlsconf.Client{Mode: tlsconf.VerifyFull}}
	c.Defaults("orders")
	err := c.Validate("sources[orders]")
	if err == nil || !strings.Contains(err.Error(), "sources[orders].sslmode and sources[orders].tls.mode both set") {
		t.Fatalf("Validate() = %v", err)
	}
}
