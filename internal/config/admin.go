package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/console"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// Admin is the HTTP endpoint for /metrics, /healthz, /readyz, /status,
// POST /snapshot and /debug/pprof (see internal/admin).
type Admin struct {
	// Addr is host:port; loopback by default because /status shows error
	// texts and positions and POST /snapshot starts work. Another address
	// needs Auth or AllowUnauthenticated.
	Addr string `yaml:"addr"`
	// TLS serves HTTPS when cert_file and key_file are set.
	TLS AdminTLS `yaml:"tls"`
	// Auth requires a bearer token on /status, POST /snapshot,
	// /debug/pprof/ (and /metrics with auth.metrics).
	Auth AdminAuth `yaml:"auth"`
	// AllowUnauthenticated accepts an address beyond loopback without
	// Auth: anyone who reaches it reads /status and starts snapshots.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
	// Console is the web page at / (internal/console).
	Console AdminConsole `yaml:"console"`
}

// AdminConsole is the `admin.console` section.
type AdminConsole struct {
	// SampleInterval is how often the console reads the metrics for its
	// charts; it keeps an hour of samples per source (720 at 5s).
	SampleInterval time.Duration `yaml:"sample_interval"`
}

// AdminTLS is the `admin.tls` section.
type AdminTLS struct {
	// CertFile and KeyFile are the server's PEM certificate (chain) and key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile is for the clients (`tributary status`, `tributary snapshot`):
	// the PEM CA that signs CertFile; empty: the system roots. The server
	// does not use it.
	CAFile string `yaml:"ca_file"`
}

// AdminAuth is the `admin.auth` section. The token is never written in the
// config: it comes from an environment variable or a file, read at start.
type AdminAuth struct {
	BearerTokenEnv  string `yaml:"bearer_token_env"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	// Metrics requires the token on /metrics too (the scraper then sends
	// it, e.g. Prometheus' authorization.credentials_file).
	Metrics bool `yaml:"metrics"`
}

func (a AdminAuth) set() bool { return a.BearerTokenEnv != "" || a.BearerTokenFile != "" }

func (t AdminTLS) set() bool { return t.CertFile != "" || t.KeyFile != "" }

func (a *Admin) defaults() {
	if a.Addr == "" {
		a.Addr = admin.DefaultAddr
	}
	if a.Console.SampleInterval == 0 {
		a.Console.SampleInterval = console.DefaultInterval
	}
}

// Validate checks the admin section's keys and reads the TLS files (so a
// broken certificate shows at `tributary validate`), but not the token.
func (a Admin) Validate() error {
	var errs []error
	_, _, addrErr := net.SplitHostPort(a.Addr)
	if addrErr != nil {
		errs = append(errs, fmt.Errorf("admin.addr %q: want host:port", a.Addr))
	}
	switch {
	case a.Auth.BearerTokenEnv != "" && a.Auth.BearerTokenFile != "":
		errs = append(errs, errors.New("admin.auth: set bearer_token_env or bearer_token_file, not both"))
	case a.Auth.Metrics && !a.Auth.set():
		errs = append(errs, errors.New("admin.auth.metrics needs admin.auth.bearer_token_env or admin.auth.bearer_token_file: the token it requires"))
	case a.Auth.set() && a.AllowUnauthenticated:
		errs = append(errs, errors.New("admin.allow_unauthenticated: true contradicts admin.auth, which requires a token; remove one of them"))
	case !a.Auth.set() && !a.AllowUnauthenticated && addrErr == nil && !admin.Loopback(a.Addr):
		errs = append(errs, fmt.Errorf("admin.addr %q listens beyond loopback without admin.auth: /status shows positions and errors and POST /snapshot starts work; "+
			"set admin.auth.bearer_token_env or admin.auth.bearer_token_file, or admin.allow_unauthenticated: true", a.Addr))
	}
	if d := a.Console.SampleInterval; d != 0 && (d < console.MinInterval || d > console.MaxInterval) {
		errs = append(errs, fmt.Errorf("admin.console.sample_interval %s: want %s to %s", d, console.MinInterval, console.MaxInterval))
	}
	if _, err := a.TLS.load(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// load reads the TLS files and returns the server's certificate; none
// without admin.tls.
func (t AdminTLS) load() ([]tls.Certificate, error) {
	if !t.set() {
		if t.CAFile != "" {
			return nil, errors.New("admin.tls.ca_file is what clients trust of an HTTPS admin server; set admin.tls.cert_file and admin.tls.key_file for the server too")
		}
		return nil, nil
	}
	if t.CertFile == "" {
		return nil, errors.New("admin.tls.cert_file: required with admin.tls.key_file (HTTPS needs the certificate of the key)")
	}
	if t.KeyFile == "" {
		return nil, errors.New("admin.tls.key_file: required with admin.tls.cert_file (HTTPS needs the certificate's private key)")
	}
	_, certs, err := tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile}.Load("admin.tls")
	return certs, err
}

// Token reads the bearer token from admin.auth.bearer_token_env or
// _file; "" without admin.auth. Errors name the key, never the value.
func (a Admin) Token() (string, error) {
	var token, key string
	switch {
	case a.Auth.BearerTokenEnv != "":
		key = "admin.auth.bearer_token_env"
		v, ok := os.LookupEnv(a.Auth.BearerTokenEnv)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", key, a.Auth.BearerTokenEnv)
		}
		token = v
	case a.Auth.BearerTokenFile != "":
		key = "admin.auth.bearer_token_file"
		b, err := os.ReadFile(a.Auth.BearerTokenFile)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		token = strings.TrimRight(string(b), "\r\n")
	default:
		return "", nil
	}
	if token == "" {
		return "", fmt.Errorf("%s: the token is empty", key)
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", fmt.Errorf("%s: the token contains spaces or control characters, which an Authorization header cannot carry", key)
	}
	return token, nil
}

// ServerTLS is the admin server's TLS configuration (TLS 1.2 or later),
// read from the files now; nil without admin.tls.
func (a Admin) ServerTLS() (*tls.Config, error) {
	certs, err := a.TLS.load()
	if err != nil || certs == nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: certs}, nil
}

// ClientTLS is how a client checks the admin server at host: against
// admin.tls.ca_file (else the system roots) and for host name; nil
// without admin.tls (plain HTTP).
func (a Admin) ClientTLS(host string) (*tls.Config, error) {
	if !a.TLS.set() {
		return nil, nil
	}
	roots, _, err := tlsconf.Files{CAFile: a.TLS.CAFile}.Load("admin.tls")
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: host}, nil
}

// ServerOptions are the admin.New options of the section: the token and
// the certificate are read when the server is built, at start.
func (a Admin) ServerOptions() []admin.Option {
	opts := []admin.Option{admin.WithConsoleInterval(a.Console.SampleInterval)}
	if a.Auth.set() {
		opts = append(opts, admin.WithBearerToken(a.Token))
		if a.Auth.Metrics {
			opts = append(opts, admin.WithProtectedMetrics())
		}
	}
	if a.TLS.set() {
		opts = append(opts, admin.WithTLS(a.ServerTLS))
	}
	return opts
}
