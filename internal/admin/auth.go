package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Option configures a Server; see New.
type Option func(*options)

type options struct {
	token        func() (string, error)
	protectStats bool
	tls          func() (*tls.Config, error)
	// consoleInterval is how often the console samples the registry; 0
	// is console.DefaultInterval.
	consoleInterval time.Duration
}

// WithConsoleInterval sets how often the console page's sampler reads the
// registry (console.DefaultInterval unless set; clamped to
// console.MinInterval … MaxInterval). The charts keep console.History.
func WithConsoleInterval(d time.Duration) Option {
	return func(o *options) { o.consoleInterval = d }
}

// WithBearerToken requires `Authorization: Bearer <token>` on the
// protected routes (see the package doc). New calls token once; its error
// (an unset variable, an unreadable file) is returned by Listen and Run,
// and until then the protected routes refuse every request. The token is
// kept only as a hash and never logged or sent back.
func WithBearerToken(token func() (string, error)) Option {
	return func(o *options) { o.token = token }
}

// WithProtectedMetrics requires the bearer token on GET /metrics as well.
// Without WithBearerToken it has no effect.
func WithProtectedMetrics() Option {
	return func(o *options) { o.protectStats = true }
}

// WithTLS serves HTTPS with the configuration config returns (called once,
// by New; its error is returned by Listen and Run). Versions below TLS 1.2
// are refused whatever it sets.
func WithTLS(config func() (*tls.Config, error)) Option {
	return func(o *options) { o.tls = config }
}

// setup reads the token and the TLS configuration. The first error is kept
// for Listen: New cannot fail, and a daemon must not serve half-protected.
func (s *Server) setup(o options) {
	if o.token != nil {
		s.auth = true
		s.protectMetrics = o.protectStats
		token, err := o.token()
		switch {
		case err != nil:
			s.startErr = err
		case token == "":
			s.startErr = errors.New("admin auth: the bearer token is empty")
		default:
			sum := sha256.Sum256([]byte(token))
			s.tokenHash = &sum
		}
	}
	if o.tls != nil && s.startErr == nil {
		cfg, err := o.tls()
		if err != nil || cfg == nil {
			s.startErr = err
			return
		}
		cfg = cfg.Clone()
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		s.tlsConfig = cfg
	}
}

// protect wraps h in the bearer-token check when auth is configured, and
// returns h as it is otherwise.
func (s *Server) protect(h http.Handler) http.Handler {
	if !s.auth {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tokenHash == nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{"the admin bearer token could not be read at start; see the daemon log"})
			return
		}
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.refuse(w, r, `Bearer realm="tributary"`, "this route needs Authorization: Bearer <token> (admin.auth)")
			return
		}
		// Hashing first makes the comparison constant-time in the length
		// too: a guess learns nothing from how long the answer took.
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], s.tokenHash[:]) != 1 {
			s.refuse(w, r, `Bearer realm="tributary", error="invalid_token"`, "the bearer token is not valid (admin.auth)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers 401. Neither the answer nor the log line quotes what the
// client sent.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, challenge, msg string) {
	s.logger.Warn("admin request refused", "path", r.URL.Path, "method", r.Method, "remote", r.RemoteAddr, "reason", msg)
	w.Header().Set("WWW-Authenticate", challenge)
	writeJSON(w, http.StatusUnauthorized, errorBody{msg})
}

// bearerToken is the token of an `Authorization: Bearer <token>` header;
// the scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Loopback reports whether addr (host:port) listens on loopback only:
// 127.0.0.0/8, ::1 or localhost. An empty host, 0.0.0.0 and :: listen on
// every interface, and any other name may resolve to anything, so they are
// not loopback.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// exposure is the start-up warning for an address beyond loopback that is
// open to anyone or carries the token in clear, "" otherwise.
func (s *Server) exposure(addr string) string {
	if Loopback(addr) {
		return ""
	}
	switch {
	case !s.auth:
		return fmt.Sprintf("admin server on %s has no authentication (admin.allow_unauthenticated): anyone who reaches it reads /status and starts snapshots", addr)
	case s.tlsConfig == nil:
		return fmt.Sprintf("admin server on %s takes a bearer token without TLS: the token crosses the network in clear text; set admin.tls.cert_file and admin.tls.key_file", addr)
	}
	return ""
}
