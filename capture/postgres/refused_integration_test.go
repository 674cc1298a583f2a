package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tributary-cdc/tributary/capture"
)

// A refused login stops the source: the first position lookup of a source
// without a checkpoint and Stream both give a permanent error naming the
// settings, so the pipeline does not retry forever.
func TestWrongPasswordIsPermanent(t *testing.T) {
	_, name := testDB(t)
	s := testSource(t, name, func(c *Config) { c.Password = "wrong" })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := s.CurrentPosition(ctx)
	checkRefused(t, "CurrentPosition", err)
	checkRefused(t, "Stream", s.Stream(ctx, capture.Resume{}, &recorder{}))
}

func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	var perm *capture.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "sources[test].user") || !strings.Contains(err.Error(), "password_env") {
		t.Errorf("%s = %v, want a permanent error naming sources[test].user and password_env", what, err)
	}
}

func TestRefusedCodes(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{"28P01": true, "28000": true, "42501": true, "57P03": false, "08006": false} {
		if got := refused(&pgconn.PgError{Code: code}); got != want {
			t.Errorf("refused(%s) = %v, want %v", code, got, want)
		}
	}
	if refused(errors.New("dial tcp: connection refused")) {
		t.Errorf("a network error counted as a refused login")
	}
}
