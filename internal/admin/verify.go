package admin

import (
	"context"
	"errors"
	"net/http"
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
	var tables []string
	for _, v := range q["table"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tables = append(tables, t)
			}
		}
	}
	// A comparison of large tables outlasts the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	rep, err := f(r.Context(), source, tables)
	code := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownSource):
		code = http.StatusNotFound
	case errors.Is(err, ErrUnavailable):
		code = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	default:
		code = http.StatusInternalServerError
	}
	if err != nil {
		writeJSON(w, code, errorBody{err.Error()})
		return
	}
	writeJSON(w, code, rep)
}
