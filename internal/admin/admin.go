// Package admin is the daemon's HTTP endpoint for operators and monitoring:
//
//	GET /metrics   Prometheus metrics (internal/metrics)
//	GET /healthz   200 "ok" while the process runs (liveness)
//	GET /readyz    200 when every source is streaming, else 503 (readiness);
//	               the JSON body gives each source's state
//	GET /status    JSON: every source's metrics.SourceStatus, sorted by name
//
// It listens on admin.addr, DefaultAddr unless configured. The default is
// loopback on purpose: /status carries error texts and positions and the
// server has no authentication; expose it beyond the host deliberately.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"syscall"
	"time"

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

	mu sync.Mutex
	ln net.Listener
}

// New returns a server for reg on addr (host:port; port 0 picks a free
// one). It does not listen yet: see Listen and Run. A nil logger discards.
func New(addr string, reg *metrics.Registry, logger *slog.Logger) *Server {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{addr: addr, reg: reg, logger: logger.With("component", "admin")}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the admin routes, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.reg.Handler())
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /status", s.status)
	// Profiles for "where does the time go" questions; the endpoint is on
	// loopback by default, like the rest of it.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// Listen binds the address. Call it before starting the pipelines so that
// an address in use stops the daemon at once; Run calls it if needed.
func (s *Server) Listen() error {
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
	s.logger.Info("admin server listening", "addr", ln.Addr().String())

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

// readyz is 200 only when every source streams. With no source registered
// the daemon is not ready either: it has nothing to do yet.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	sts := s.reg.Statuses()
	body := Readiness{Ready: len(sts) > 0, Sources: make(map[string]string, len(sts))}
	for _, st := range sts {
		body.Sources[st.Name] = st.State
		if st.State != metrics.StateStreaming {
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}
