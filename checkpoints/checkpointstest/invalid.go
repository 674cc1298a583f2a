package checkpointstest

import (
	"context"
	"errors"
	"testing"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// testInvalidInput passes source names no configuration can produce, and a
// cancelled context: every method must refuse them with an error, and a
// refused Commit must store nothing.
func testInvalidInput(t *testing.T, h Harness) {
	s := newEnv(t, h).open(5)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		source  string
		wantErr error // nil: any error
	}{
		{name: "empty source", ctx: t.Context(), source: ""},
		{name: "source with NUL", ctx: t.Context(), source: "a\x00b"},
		{name: "cancelled context", ctx: cancelled, source: "src", wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := map[string]error{"Commit": s.Commit(tt.ctx, tt.source, cp("p"))}
			_, errs["Load"] = s.Load(tt.ctx, tt.source)
			_, errs["History"] = s.History(tt.ctx, tt.source)
			for op, err := range errs {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Errorf("%s(%q) = %v, want error %v", op, tt.source, err, tt.wantErr)
				}
			}
			if tt.wantErr == nil {
				return
			}
			if _, err := s.Load(t.Context(), tt.source); !errors.Is(err, checkpoints.ErrNotFound) {
				t.Errorf("Load(%q) after the refused Commit = %v, want ErrNotFound", tt.source, err)
			}
		})
	}
}
