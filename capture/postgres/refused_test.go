package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tributary-cdc/tributary/capture"
)

// A refusal, however deeply wrapped, becomes permanent and names the
// settings; anything else passes through unchanged.
func TestPermanentIfRefused(t *testing.T) {
	t.Parallel()
	s := &Source{name: "pg1"}
	already := &capture.PermanentError{Err: fmt.Errorf("%w: create publication: %w", ErrPreflight, &pgconn.PgError{Code: "42501"})}
	tests := []struct {
		name      string
		err       error
		permanent bool
		names     bool // the message names sources[pg1].user and password_env
	}{
		{"nil", nil, false, false},
		{"wrong password", fmt.Errorf("preflight: read settings: %w", &pgconn.PgError{Code: "28P01"}), true, true},
		{"no pg_hba entry", fmt.Errorf("open replication connection: %w", &pgconn.PgError{Code: "28000"}), true, true},
		{"insufficient privilege", fmt.Errorf("create replication slot: %w", &pgconn.PgError{Code: "42501"}), true, true},
		{"server starting up", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "57P03"}), false, false},
		{"network", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false, false},
		{"already permanent", already, true, false},
	}
	for _, tt := range tests {
		got := s.permanentIfRefused(tt.err)
		var perm *capture.PermanentError
		if errors.As(got, &perm) != tt.permanent {
			t.Errorf("%s: permanentIfRefused(%v) = %v, permanent %v", tt.name, tt.err, got, !tt.permanent)
		}
		if got != nil && !errors.Is(got, tt.err) {
			t.Errorf("%s: %v does not wrap %v", tt.name, got, tt.err)
		}
		if tt.names && (!strings.Contains(got.Error(), "sources[pg1].user") || !strings.Contains(got.Error(), "password_env")) {
			t.Errorf("%s: %q does not name sources[pg1].user and password_env", tt.name, got)
		}
	}
	if got := s.permanentIfRefused(already); got != error(already) {
		t.Errorf("an already permanent error was wrapped again: %v", got)
	}
}
