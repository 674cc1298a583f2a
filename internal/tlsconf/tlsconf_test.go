package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestFilesLoad(t *testing.T) {
	t.Parallel()
	c := testenv.WriteCerts(t)
	tests := []struct {
		name  string
		files Files
		want  string // substring of the error; "" means it loads
	}{
		{"nothing", Files{}, ""},
		{"ca only", Files{CAFile: c.CA}, ""},
		{"client pair", Files{CAFile: c.CA, CertFile: c.ClientCert, KeyFile: c.ClientKey}, ""},
		{"ca missing", Files{CAFile: c.Dir + "/nope.pem"}, "x.ca_file: open "},
		{"ca not pem", Files{CAFile: c.NotPEM}, "x.ca_file " + c.NotPEM + ": no PEM certificate in it"},
		{"cert without key", Files{CertFile: c.ClientCert}, "x: cert_file and key_file go together"},
		{"key missing", Files{CertFile: c.ClientCert, KeyFile: c.Dir + "/nope.key"}, "x.key_file: stat "},
		{"mismatched pair", Files{CertFile: c.ClientCert, KeyFile: c.OtherKey}, "x.cert_file/key_file: not a matching PEM certificate and private key: private key does not match public key"},
		{"cert not pem", Files{CertFile: c.NotPEM, KeyFile: c.ClientKey}, "x.cert_file/key_file: not a matching PEM certificate and private key: failed to find any PEM data in certificate input"},
	}
	for _, tt := range tests {
		_, _, err := tt.files.Load("x")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestClientConfigModes(t *testing.T) {
	t.Parallel()
	c := testenv.WriteCerts(t)
	tests := []struct {
		client       Client
		nilConfig    bool
		skipVerify   bool // Go's own verification off
		verifyChain  bool // our chain-only check on
		serverName   string
		certificates int
	}{
		{client: Client{Mode: Disable}, nilConfig: true},
		{client: Client{}, skipVerify: true, serverName: "db.local"}, // prefer
		{client: Client{Mode: Require}, skipVerify: true, serverName: "db.local"},
		{client: Client{Mode: Require, CAFile: c.CA}, skipVerify: true, verifyChain: true, serverName: "db.local"},
		{client: Client{Mode: VerifyCA, CAFile: c.CA}, skipVerify: true, verifyChain: true, serverName: "db.local"},
		{client: Client{Mode: VerifyFull, CAFile: c.CA}, serverName: "db.local"},
		{client: Client{Mode: VerifyFull, CAFile: c.CA, ServerName: "other", CertFile: c.ClientCert, KeyFile: c.ClientKey}, serverName: "other", certificates: 1},
	}
	for _, tt := range tests {
		cfg, err := tt.client.Config("k", "db.local")
		if err != nil {
			t.Fatalf("%+v: %v", tt.client, err)
		}
		if tt.nilConfig {
			if cfg != nil {
				t.Errorf("%+v: want no TLS", tt.client)
			}
			continue
		}
		if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify != tt.skipVerify || (cfg.VerifyConnection != nil) != tt.verifyChain ||
			cfg.ServerName != tt.serverName || len(cfg.Certificates) != tt.certificates {
			t.Errorf("%+v: config min %x skip %v chain %v name %q certs %d", tt.client, cfg.MinVersion, cfg.InsecureSkipVerify, cfg.VerifyConnection != nil, cfg.ServerName, len(cfg.Certificates))
		}
	}
}

func TestClientValidate(t *testing.T) {
	t.Parallel()
	c := testenv.WriteCerts(t)
	tests := []struct {
		client Client
		want   string
	}{
		{Client{}, ""},
		{Client{Mode: VerifyFull, CAFile: c.CA}, ""},
		{Client{Mode: "on"}, `sources[crm].tls.mode "on": want disable, prefer, require, verify-ca or verify-full`},
		{Client{Mode: Disable, CAFile: c.CA}, "sources[crm].tls: mode is disable, so ca_file"},
		{Client{Mode: VerifyCA, CAFile: c.NotPEM}, "sources[crm].tls.ca_file"},
	}
	for _, tt := range tests {
		err := tt.client.Validate("sources[crm].tls")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.client, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: error %v, want %q", tt.client, err, tt.want)
		}
	}
}
