package admin

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

const (
	secret = "s3cr3t-admin-token"
	guess  = "not-the-token"
)

// lockedBuffer collects a logger's output from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestBearerTokenRoutes(t *testing.T) {
	t.Parallel()
	const (
		none  = ""
		right = "Bearer " + secret
		wrong = "Bearer " + guess
	)
	type check struct {
		method, path, auth string
		code               int
	}
	open := func(method, path string, code int) []check {
		return []check{{method, path, none, code}, {method, path, wrong, code}, {method, path, right, code}}
	}
	protected := func(method, path string, code int) []check {
		return []check{{method, path, none, http.StatusUnauthorized}, {method, path, wrong, http.StatusUnauthorized}, {method, path, right, code}}
	}
	join := func(groups ...[]check) []check {
		var all []check
		for _, g := range groups {
			all = append(all, g...)
		}
		return all
	}
	tests := []struct {
		name   string
		opts   []Option
		checks []check
	}{
		{
			name: "no auth: every route open",
			checks: join(
				open("GET", "/metrics", 200), open("GET", "/status", 200), open("POST", "/snapshot?source=crm&table=d.t", 202),
				open("GET", "/debug/pprof/", 200), open("GET", "/healthz", 200),
				open("GET", "/", 200), open("GET", "/console/app.js", 200), open("GET", "/console/data", 200),
				open("GET", "/nope", 404), open("GET", "/console/", 404), open("POST", "/", 405),
			),
		},
		{
			name: "token: probes and metrics open, the rest protected",
			opts: []Option{WithBearerToken(token(secret))},
			checks: join(
				open("GET", "/healthz", 200), open("GET", "/readyz", 503), open("GET", "/metrics", 200),
				protected("GET", "/status", 200), protected("POST", "/snapshot?source=crm&table=d.t", 202),
				protected("GET", "/debug/pprof/", 200), protected("GET", "/debug/pprof/goroutine?debug=1", 200),
				// The console page holds no data; its data is /status's.
				open("GET", "/", 200), open("GET", "/console/app.js", 200), open("GET", "/console/app.css", 200),
				protected("GET", "/console/data", 200), open("GET", "/index.html", 404),
				[]check{
					{"GET", "/status", "bearer " + secret, 200}, // the scheme is case-insensitive
					{"GET", "/status", "Basic " + secret, 401},
					{"GET", "/status", "Bearer", 401},
					{"GET", "/status", secret, 401},
					{"GET", "/status", "Bearer " + secret + "x", 401},
					{"GET", "/status", "Bearer " + secret[:len(secret)-1], 401},
				},
			),
		},
		{
			name:   "token with metrics",
			opts:   []Option{WithBearerToken(token(secret)), WithProtectedMetrics()},
			checks: join(protected("GET", "/metrics", 200), open("GET", "/healthz", 200), protected("GET", "/status", 200)),
		},
		{
			name:   "metrics protection without a token does nothing",
			opts:   []Option{WithProtectedMetrics()},
			checks: open("GET", "/metrics", 200),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &lockedBuffer{}
			srv := serve(t, New("127.0.0.1:0", nil, slog.New(slog.NewTextHandler(logs, nil)), tc.opts...))
			srv.OnSnapshot(func(string, []string) error { return nil })
			for _, c := range tc.checks {
				code, hdr, body := call(t, http.DefaultClient, c.method, "http://"+srv.Addr()+c.path, c.auth)
				if code != c.code {
					t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.auth, code, body, c.code)
				}
				if code != http.StatusUnauthorized {
					continue
				}
				if ch := hdr.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") {
					t.Errorf("%s %s: WWW-Authenticate %q, want a Bearer challenge", c.method, c.path, ch)
				}
				var e errorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, "admin.auth") {
					t.Errorf("%s %s: 401 body %q, want a JSON error naming admin.auth", c.method, c.path, body)
				}
				if strings.Contains(body, secret) || strings.Contains(body, guess) {
					t.Errorf("%s %s: 401 body echoes a token: %s", c.method, c.path, body)
				}
			}
			if l := logs.String(); strings.Contains(l, secret) || strings.Contains(l, guess) {
				t.Errorf("the log holds a token:\n%s", l)
			}
		})
	}
}

func TestWrongTokenChallenge(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil, WithBearerToken(token(secret)))
	_, hdr, _ := call(t, http.DefaultClient, "GET", "http://"+srv.Addr()+"/status", "")
	if got := hdr.Get("WWW-Authenticate"); got != `Bearer realm="tributary"` {
		t.Errorf("without a token: %q", got)
	}
	_, hdr, _ = call(t, http.DefaultClient, "GET", "http://"+srv.Addr()+"/status", "Bearer "+guess)
	if got := hdr.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("with a wrong token: %q", got)
	}
}

// A token or certificate that cannot be read stops Listen and Run, and the
// handler refuses the protected routes meanwhile.
func TestOptionErrorsStopListen(t *testing.T) {
	t.Parallel()
	unset := errors.New("admin.auth.bearer_token_env: environment variable TRIBUTARY_ADMIN_TOKEN is not set")
	tests := []struct {
		name     string
		opts     []Option
		want     string
		snapshot int // POST /snapshot through Handler
	}{
		{"token unreadable", []Option{WithBearerToken(func() (string, error) { return "", unset })}, unset.Error(), 503},
		{"token empty", []Option{WithBearerToken(token(""))}, "admin auth: the bearer token is empty", 503},
		{"tls unreadable", []Option{WithTLS(func() (*tls.Config, error) { return nil, errors.New("admin.tls.cert_file: no such file") })},
			"admin.tls.cert_file: no such file", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := New("127.0.0.1:0", nil, nil, tc.opts...)
			if err := srv.Listen(); err == nil || err.Error() != tc.want {
				t.Errorf("Listen: %v, want %q", err, tc.want)
			}
			if err := srv.Run(t.Context()); err == nil || err.Error() != tc.want {
				t.Errorf("Run: %v, want %q", err, tc.want)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/snapshot?source=a&table=d.t", nil))
			if rec.Code != tc.snapshot {
				t.Errorf("POST /snapshot through Handler: %d %s, want %d", rec.Code, rec.Body, tc.snapshot)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.WriteCerts(t)
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	srv := startServer(t, nil, WithBearerToken(token(secret)),
		// MinVersion 1.0 asked for: the server raises it to 1.2 anyway.
		WithTLS(func() (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS10}, nil
		}))
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	https := "https://" + srv.Addr()

	if code, _, body := call(t, client(&tls.Config{RootCAs: roots}), "GET", https+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz over TLS: %d %q", code, body)
	}
	if code, _, _ := call(t, client(&tls.Config{RootCAs: roots}), "GET", https+"/status", "Bearer "+secret); code != 200 {
		t.Errorf("GET /status over TLS with the token: %d", code)
	}
	if code, _, _ := call(t, client(&tls.Config{RootCAs: roots}), "GET", https+"/status", ""); code != 401 {
		t.Errorf("GET /status over TLS without the token: %d", code)
	}
	if code, _, body := call(t, http.DefaultClient, "GET", "http://"+srv.Addr()+"/healthz", ""); code != 400 || !strings.Contains(body, "HTTPS") {
		t.Errorf("plain HTTP to the TLS port: %d %q, want 400", code, body)
	}
	old := client(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if _, err := old.Get(https + "/healthz"); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client: %v, want a protocol version failure", err)
	}
	if _, err := client(nil).Get(https + "/healthz"); err == nil {
		t.Error("a client that does not trust the CA connected")
	}
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:9464":       true,
		"127.1.2.3:9464":       true,
		"[::1]:9464":           true,
		"localhost:9464":       true,
		"LOCALHOST:0":          true,
		"[::ffff:127.0.0.1]:1": true,
		"0.0.0.0:9464":         false,
		"[::]:9464":            false,
		":9464":                false,
		"10.0.0.5:9464":        false,
		"[fe80::1%eth0]:9464":  false,
		"admin.example:9464":   false,
		"127.0.0.1":            false, // no port: not an address Listen takes
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestExposureWarning(t *testing.T) {
	t.Parallel()
	withTLS := WithTLS(func() (*tls.Config, error) { return &tls.Config{}, nil })
	tests := []struct {
		addr string
		opts []Option
		want string
	}{
		{"127.0.0.1:9464", nil, ""},
		{"0.0.0.0:9464", nil, "no authentication"},
		{"0.0.0.0:9464", []Option{WithBearerToken(token(secret))}, "without TLS"},
		{"0.0.0.0:9464", []Option{WithBearerToken(token(secret)), withTLS}, ""},
		{"127.0.0.1:9464", []Option{WithBearerToken(token(secret))}, ""},
	}
	for _, tc := range tests {
		got := New(tc.addr, nil, nil, tc.opts...).exposure(tc.addr)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s with %d options: warning %q, want %q", tc.addr, len(tc.opts), got, tc.want)
		}
	}
}
