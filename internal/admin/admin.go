// Package admin is the daemon's HTTP endpoint for operators and monitoring:
//
//	GET /metrics   Prometheus metrics (internal/metrics)
//	GET /healthz   200 "ok" while the process runs (liveness)
//	GET /readyz    200 when every source is streaming and delivering, else 503 (readiness);
//	               the JSON body gives each source's state
//	GET /status    JSON: every source's metrics.SourceStatus, sorted by name
//	POST /snapshot?source=S&table=db.t[&table=…]
//	               queue an on-demand snapshot of tables (see OnSnapshot):
//	               202 with a JSON SnapshotAccepted, 4xx with {"error": …}
//	POST /verify?source=S[&table=db.t]
//	               compare tables with the accuracy monitor's digests now
//	               (see OnVerify): 200 with the verify report as JSON
//	GET /cluster   JSON: this member's view of its cluster group (member
//	               id, generation, owned sources with their epochs); 404
//	               without cluster: (see OnCluster)
//	GET /debug/pprof/…  Go profiles
//	GET /               the operator's console page (internal/console), with
//	                    its assets under /console/ and its JSON at
//	                    GET /console/data
//
// It listens on admin.addr, DefaultAddr unless configured. The default is
// loopback on purpose: /status carries error texts and positions, POST
// /snapshot starts work and the profiles show the process's internals.
//
// Without WithBearerToken every route is open, which is meant for loopback
// (internal/config refuses another address unless
// admin.allow_unauthenticated is set). With it, `Authorization: Bearer
// <token>` is required on /status, POST /snapshot, POST /verify and /debug/pprof/, and on
// /metrics with WithProtectedMetrics, and on /console/data, which carries
// what /status does; /healthz and /readyz stay open for probes, which
// cannot carry a secret and learn nothing but source names and states. The
// console page and its script stay open too: they hold no data, and a
// browser cannot send a header when it opens a page (the page asks for the
// token and sends it with its requests). A missing or wrong token is answered 401 with a
// `WWW-Authenticate: Bearer` challenge. WithTLS serves HTTPS (TLS 1.2 or
// later) instead of plain HTTP.
package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tributary-cdc/tributary/internal/console"
	"github.com/tributary-cdc/tributary/internal/metrics"
)

// DefaultAddr is admin.addr's default: 9464 is the port commonly used for
// Prometheus exporters of this kind, loopback keeps it private.
const DefaultAddr = "127.0.0.1:9464"

// shutdownTimeout bounds the graceful shutdown after the context is done;
// scrapes are short, so anything still open after it is dropped.
const shutdownTimeout = 5 * time.Second

// Server serves the admin routes of one registry.
type Server struct {
	addr   string
	reg    *metrics.Registry
	logger *slog.Logger
	srv    *http.Server

	// Set by New from the options, read-only afterwards.
	auth           bool      // WithBearerToken was given
	tokenHash      *[32]byte // SHA-256 of the token; nil if it could not be read
	protectMetrics bool
	tlsConfig      *tls.Config
	startErr       error // reading the token or TLS files failed; Listen returns it
	console        *console.Console

	mu         sync.Mutex
	ln         net.Listener
	onSnapshot SnapshotFunc
	onVerify   VerifyFunc
	onCluster  func() any
}

// OnCluster registers what GET /cluster answers (a JSON-encodable value).
func (s *Server) OnCluster(f func() any) {
	s.mu.Lock()
	s.onCluster = f
	s.mu.Unlock()
}

func (s *Server) cluster(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	f := s.onCluster
	s.mu.Unlock()
	if f == nil {
		writeJSON(w, http.StatusNotFound, errorBody{"this daemon does not run in cluster mode"})
		return
	}
	writeJSON(w, http.StatusOK, f())
}

// SnapshotFunc queues an on-demand snapshot of tables ("db.table") of a
// source. Its errors choose the answer: ErrUnknownSource 404,
// ErrUnavailable 409, ErrInvalid 400, others 500.
type SnapshotFunc func(source string, tables []string) error

var (
	// ErrUnknownSource: no source of that name is configured.
	ErrUnknownSource = errors.New("unknown source")
	// ErrUnavailable: the source cannot take the request now; retry later.
	ErrUnavailable = errors.New("source unavailable")
	// ErrInvalid: the request cannot succeed as made (a table that is not
	// captured, keyless or missing; a source kind without snapshots).
	ErrInvalid = errors.New("invalid request")
)

// SnapshotAccepted is POST /snapshot's 202 body.
type SnapshotAccepted struct {
	Source  string   `json:"source"`
	Tables  []string `json:"tables"`
	Message string   `json:"message"`
}

// OnSnapshot registers what POST /snapshot calls; without it the route
// answers 404.
func (s *Server) OnSnapshot(f SnapshotFunc) {
	s.mu.Lock()
	s.onSnapshot = f
	s.mu.Unlock()
}

// New returns a server for reg on addr (host:port; port 0 picks a free
// one). It does not listen yet: see Listen and Run. A nil logger discards.
// The options' token and TLS files are read now; their errors come from
// Listen.
func New(addr string, reg *metrics.Registry, logger *slog.Logger, opts ...Option) *Server {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{addr: addr, reg: reg, logger: logger.With("component", "admin")}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s.setup(o)
	s.console = console.New(reg.Prometheus(), reg.Statuses, o.consoleInterval)
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the admin routes, token checks included, for tests and
// for mounting elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	metricsHandler := s.reg.Handler()
	if s.protectMetrics {
		metricsHandler = s.protect(metricsHandler)
	}
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /status", s.protect(http.HandlerFunc(s.status)))
	mux.Handle("POST /snapshot", s.protect(http.HandlerFunc(s.snapshot)))
	mux.Handle("POST /verify", s.protect(http.HandlerFunc(s.verify)))
	mux.Handle("GET /cluster", s.protect(http.HandlerFunc(s.cluster)))
	// Profiles for "where does the time go" questions; they show the
	// process's internals, so they take the token like /status.
	mux.Handle("GET /debug/pprof/", s.protect(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", s.protect(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", s.protect(http.HandlerFunc(pprof.Trace)))
	// The console: the page and its assets are static and open, its data
	// is /status's and takes the token like /status.
	page := s.console.Page()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /console/app.js", page)
	mux.Handle("GET /console/app.css", page)
	mux.Handle("GET /console/data", s.protect(s.console.Data()))
	return mux
}

// Listen binds the address. Call it before starting the pipelines so that
// an address in use, or a token or certificate New could not read, stops
// the daemon at once; Run calls it if needed.
func (s *Server) Listen() error {
	if s.startErr != nil {
		return s.startErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("admin.addr %s: %w", s.addr, syscall.EADDRINUSE)
	}
	if err != nil {
		return fmt.Errorf("admin.addr %s: %w", s.addr, err)
	}
	if s.tlsConfig != nil {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	s.ln = ln
	return nil
}

// Addr is the address listened on once Listen succeeded (with the port
// chosen for port 0), else the configured one.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Run serves until ctx is done, then shuts down gracefully within 5s and
// returns nil. It returns an error if it cannot listen or serving fails.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	s.logger.Info("admin server listening", "addr", ln.Addr().String(), "tls", s.tlsConfig != nil, "auth", s.auth)
	if warning := s.exposure(s.addr); warning != "" {
		s.logger.Warn(warning)
	}

	sampling, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() { s.console.Run(sampling); close(sampled) }()
	defer func() { stopSampling(); <-sampled }()

	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("admin server: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(shutCtx); err != nil {
		s.srv.Close()
		s.logger.Warn("admin server did not stop in time; connections closed", "err", err)
	}
	<-served // http.ErrServerClosed
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// Readiness is /readyz's body.
type Readiness struct {
	Ready   bool              `json:"ready"`
	Sources map[string]string `json:"sources"` // name → state
}

// readyz is 200 only when every source streams, has delivered since its
// attempt began (or confirmed it is idle: SourceStatus.Delivering) and none
// is stalled. With no source registered the daemon is not ready either: it
// has nothing to do yet.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	sts := s.reg.Statuses()
	body := Readiness{Ready: len(sts) > 0, Sources: make(map[string]string, len(sts))}
	for _, st := range sts {
		body.Sources[st.Name] = st.State
		switch {
		case st.Stalled:
			body.Sources[st.Name] = "stalled"
		case st.State == metrics.StateStreaming && !st.Delivering:
			body.Sources[st.Name] = "awaiting_delivery"
		}
		if (!st.Delivering && st.State != metrics.StateStandby) || st.Stalled {
			body.Ready = false
		}
	}
	code := http.StatusOK
	if !body.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	sts := s.reg.Statuses()
	if sts == nil {
		sts = []metrics.SourceStatus{}
	}
	writeJSON(w, http.StatusOK, sts)
}

// errorBody is the JSON body of a refused request.
type errorBody struct {
	Error string `json:"error"`
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.onSnapshot
	s.mu.Unlock()
	if f == nil {
		writeJSON(w, http.StatusNotFound, errorBody{"this daemon does not take snapshot requests"})
		return
	}
	q := r.URL.Query()
	source := q.Get("source")
	tables := queryTables(q)
	if source == "" || len(tables) == 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{"want ?source=S&table=db.table[&table=…]"})
		return
	}
	if err := f(source, tables); err != nil {
		s.logger.Warn("snapshot request refused", "source", source, "tables", strings.Join(tables, ","), "err", err)
		writeJSON(w, errorStatus(err), errorBody{err.Error()})
		return
	}
	s.logger.Info("snapshot request accepted", "source", source, "tables", strings.Join(tables, ","))
	writeJSON(w, http.StatusAccepted, SnapshotAccepted{Source: source, Tables: tables,
		Message: "queued: the tables are re-sent while streaming continues; the request is durable at the next checkpoint"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}
