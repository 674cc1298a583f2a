package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestAdminValidate(t *testing.T) {
	t.Parallel()
	certs := testenv.WriteCerts(t)
	env := AdminAuth{BearerTokenEnv: "TRIBUTARY_ADMIN_TOKEN"}
	file := AdminAuth{BearerTokenFile: "/run/secrets/admin-token"}
	serverTLS := AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CA}
	tests := []struct {
		name  string
		admin Admin
		want  string // "" for valid
	}{
		{"default loopback", Admin{Addr: admin.DefaultAddr}, ""},
		{"loopback v6", Admin{Addr: "[::1]:9464"}, ""},
		{"localhost", Admin{Addr: "localhost:9464"}, ""},
		{"other 127/8", Admin{Addr: "127.0.0.2:9464"}, ""},
		{"no port", Admin{Addr: "127.0.0.1"}, `admin.addr "127.0.0.1": want host:port`},
		{"all interfaces refused", Admin{Addr: "0.0.0.0:9464"},
			`admin.addr "0.0.0.0:9464" listens beyond loopback without admin.auth: /status shows positions and errors and POST /snapshot starts work; ` +
				`set admin.auth.bearer_token_env or admin.auth.bearer_token_file, or admin.allow_unauthenticated: true`},
		{"empty host refused", Admin{Addr: ":9464"}, `admin.addr ":9464" listens beyond loopback without admin.auth`},
		{"v6 any refused", Admin{Addr: "[::]:9464"}, `admin.addr "[::]:9464" listens beyond loopback`},
		{"interface address refused", Admin{Addr: "10.1.2.3:9464"}, `admin.addr "10.1.2.3:9464" listens beyond loopback`},
		{"host name refused", Admin{Addr: "tributary.internal:9464"}, "listens beyond loopback"},
		{"all interfaces with env token", Admin{Addr: "0.0.0.0:9464", Auth: env}, ""},
		{"all interfaces with token file", Admin{Addr: "0.0.0.0:9464", Auth: file}, ""},
		{"all interfaces allowed unauthenticated", Admin{Addr: "0.0.0.0:9464", AllowUnauthenticated: true}, ""},
		{"both env and file", Admin{Addr: admin.DefaultAddr, Auth: AdminAuth{BearerTokenEnv: "T", BearerTokenFile: "/t"}},
			"admin.auth: set bearer_token_env or bearer_token_file, not both"},
		{"metrics without a token", Admin{Addr: admin.DefaultAddr, Auth: AdminAuth{Metrics: true}}, "admin.auth.metrics needs admin.auth.bearer_token_env"},
		{"auth and allow_unauthenticated", Admin{Addr: "0.0.0.0:9464", Auth: env, AllowUnauthenticated: true}, "admin.allow_unauthenticated: true contradicts admin.auth"},
		{"tls", Admin{Addr: "0.0.0.0:9464", Auth: env, TLS: serverTLS}, ""},
		{"tls without ca_file", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, ""},
		{"tls key missing", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.ServerCert}}, "admin.tls.key_file: required with admin.tls.cert_file"},
		{"tls cert missing", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{KeyFile: certs.ServerKey}}, "admin.tls.cert_file: required with admin.tls.key_file"},
		{"tls cert file absent", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: filepath.Join(certs.Dir, "nope.pem"), KeyFile: certs.ServerKey}},
			"admin.tls.cert_file: stat " + filepath.Join(certs.Dir, "nope.pem") + ": no such file or directory"},
		{"tls key file absent", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.ServerCert, KeyFile: "/nonexistent/key.pem"}}, "admin.tls.key_file: stat /nonexistent/key.pem"},
		{"tls cert not PEM", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.NotPEM, KeyFile: certs.ServerKey}},
			"admin.tls.cert_file/key_file: not a matching PEM certificate and private key: failed to find any PEM data in certificate input"},
		{"tls key of another certificate", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.OtherKey}},
			"admin.tls.cert_file/key_file: not a matching PEM certificate and private key: private key does not match public key"},
		{"tls ca_file not PEM", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.NotPEM}},
			"admin.tls.ca_file " + certs.NotPEM + ": no PEM certificate in it"},
		{"ca_file alone", Admin{Addr: admin.DefaultAddr, TLS: AdminTLS{CAFile: certs.CA}}, "admin.tls.ca_file is what clients trust"},
		{"console sample interval", Admin{Addr: admin.DefaultAddr, Console: AdminConsole{SampleInterval: time.Second}}, ""},
		{"console sample interval too short", Admin{Addr: admin.DefaultAddr, Console: AdminConsole{SampleInterval: 100 * time.Millisecond}},
			"admin.console.sample_interval 100ms: want 1s to 1m0s"},
		{"console sample interval too long", Admin{Addr: admin.DefaultAddr, Console: AdminConsole{SampleInterval: 2 * time.Minute}},
			"admin.console.sample_interval 2m0s: want 1s to 1m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.admin.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// The section reaches Validate through Parse, and a token written inline
// is an unknown key, not a silently ignored one.
func TestAdminParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, admin, want string
	}{
		{"refused at load", `admin: {addr: "0.0.0.0:9464"}`, `admin.addr "0.0.0.0:9464" listens beyond loopback without admin.auth`},
		{"auth", `admin: {addr: "0.0.0.0:9464", auth: {bearer_token_env: TOKEN, metrics: true}}`, ""},
		{"allowed", `admin: {addr: "0.0.0.0:9464", allow_unauthenticated: true}`, ""},
		{"inline token", `admin: {auth: {bearer_token: abc}}`, "admin.auth.bearer_token (line 6) is not a known key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(minimal + tc.admin + "\n"))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Parse: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Parse: %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "abc") {
				t.Errorf("the error quotes the inline token: %v", err)
			}
		})
	}
}

// Token reads the environment, so this test and its subtests do not run in
// parallel (t.Setenv).
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("TRIBUTARY_TEST_ADMIN_TOKEN", "tok-from-env")
	t.Setenv("TRIBUTARY_TEST_ADMIN_EMPTY", "")
	t.Setenv("TRIBUTARY_TEST_ADMIN_SPACE", "tok with space")
	tests := []struct {
		name      string
		auth      AdminAuth
		token     string
		wantErr   string
		forbidden string // must not appear in the error
	}{
		{"no auth", AdminAuth{}, "", "", ""},
		{"env", AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_TOKEN"}, "tok-from-env", "", ""},
		{"env unset", AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_UNSET"}, "",
			"admin.auth.bearer_token_env: environment variable TRIBUTARY_TEST_ADMIN_UNSET is not set", ""},
		{"env empty", AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_EMPTY"}, "", "admin.auth.bearer_token_env: the token is empty", ""},
		{"env with a space", AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_SPACE"}, "",
			"admin.auth.bearer_token_env: the token contains spaces or control characters", "tok with space"},
		{"file, trailing newline dropped", AdminAuth{BearerTokenFile: write("token", "tok-from-file\n")}, "tok-from-file", "", ""},
		{"file missing", AdminAuth{BearerTokenFile: filepath.Join(dir, "absent")}, "", "admin.auth.bearer_token_file: open " + filepath.Join(dir, "absent"), ""},
		{"file empty", AdminAuth{BearerTokenFile: write("empty", "\n")}, "", "admin.auth.bearer_token_file: the token is empty", ""},
		{"file with a tab", AdminAuth{BearerTokenFile: write("tab", "tok\tsecret\n")}, "", "admin.auth.bearer_token_file: the token contains", "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Admin{Addr: admin.DefaultAddr, Auth: tc.auth}.Token()
			if got != tc.token {
				t.Errorf("Token = %q, want %q", got, tc.token)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Token: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Token: %v, want %q", err, tc.wantErr)
			case tc.forbidden != "" && strings.Contains(err.Error(), tc.forbidden):
				t.Errorf("Token error quotes the token: %v", err)
			}
		})
	}
}

// ServerOptions read the token when the server is built: an unset variable
// stops the daemon's start (admin.Server.Listen) naming the key.
func TestAdminServerOptions(t *testing.T) {
	t.Setenv("TRIBUTARY_TEST_ADMIN_TOKEN", "tok")
	certs := testenv.WriteCerts(t)

	unset := Admin{Addr: "127.0.0.1:0", Auth: AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_UNSET"}}
	err := admin.New(unset.Addr, nil, nil, unset.ServerOptions()...).Listen()
	if want := "admin.auth.bearer_token_env: environment variable TRIBUTARY_TEST_ADMIN_UNSET is not set"; err == nil || err.Error() != want {
		t.Errorf("Listen with the variable unset: %v, want %q", err, want)
	}

	a := Admin{Addr: "127.0.0.1:0", Auth: AdminAuth{BearerTokenEnv: "TRIBUTARY_TEST_ADMIN_TOKEN", Metrics: true},
		TLS: AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CA}}
	if n := len(a.ServerOptions()); n != 4 {
		t.Errorf("%d options, want the console's interval, token, metrics and TLS", n)
	}
	srv, err := a.ServerTLS()
	if err != nil || srv.MinVersion != tls.VersionTLS12 || len(srv.Certificates) != 1 {
		t.Errorf("ServerTLS = %+v, %v", srv, err)
	}
	cli, err := a.ClientTLS("127.0.0.1")
	if err != nil || cli.RootCAs == nil || cli.ServerName != "127.0.0.1" || cli.MinVersion != tls.VersionTLS12 {
		t.Errorf("ClientTLS = %+v, %v", cli, err)
	}
	if cli, err := (Admin{}).ClientTLS("127.0.0.1"); cli != nil || err != nil {
		t.Errorf("ClientTLS without admin.tls = %v, %v; want plain HTTP", cli, err)
	}
	if opts := (Admin{Addr: admin.DefaultAddr}).ServerOptions(); len(opts) != 1 {
		t.Errorf("%d options without auth and TLS, want the console's interval only", len(opts))
	}
}
