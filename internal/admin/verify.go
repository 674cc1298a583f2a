package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// VerifyFunc compares tables ("db.table"; none: every captured table) of a
// source with the accuracy monitor's digests now and returns the report
// (internal/verify.Report). ErrUnknownSource answers 404, ErrUnavailable
// 409 (no monitor for that source, or paused), ErrInvalid 400.
type VerifyFunc func(ctx context.Context, source string, tables []string) (any, error)

// OnVerify registers what POST /verify?source=S[&table=db.t] calls;
// without it the route answers 404. `tributary verify` asks it first.
func (s *Server) OnVerify(f VerifyFunc) {
	s.mu.Lock()
	s.onVerify = f
	s.mu.Unlock()
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.onVerify
	s.mu.Unlock()
	if f == nil {
		writeJSON(w, http.StatusNotFound, errorBody{"this daemon runs no accuracy monitor"})
		return
	}
	q := r.URL.Query()
	source := q.Get("source")
	if source == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{"want ?source=S[&table=db.table…]"})
		return
	}
	tables := queryTables(q)
	// A comparison of large tables outlasts the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	rep, err := f(r.Context(), source, tables)
	if err != nil {
		writeJSON(w, errorStatus(err), errorBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// queryTables is the table=db.t parameters of a request, each also a
// comma-separated list.
func queryTables(q url.Values) []string {
	var tables []string
	for _, v := range q["table"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tables = append(tables, t)
			}
		}
	}
	return tables
}

// errorStatus is the HTTP status of a request handler's error
// (ErrUnknownSource, ErrUnavailable, ErrInvalid; others 500).
func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownSource):
		return http.StatusNotFound
	case errors.Is(err, ErrUnavailable):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}
