package badgerstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSlogAdapter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		log     func(slogAdapter)
		want    string // substring of the output; "" means no output
		handler slog.Level
	}{
		{name: "error", log: func(a slogAdapter) { a.Errorf("disk %s\n", "full") }, want: `level=ERROR msg="disk full"`},
		{name: "warning", log: func(a slogAdapter) { a.Warningf("slow %d", 3) }, want: `level=WARN msg="slow 3"`},
		{name: "info dropped", log: func(a slogAdapter) { a.Infof("flushed") }, handler: slog.LevelDebug},
		{name: "debug dropped", log: func(a slogAdapter) { a.Debugf("tick") }, handler: slog.LevelDebug},
		{name: "warning below handler level", log: func(a slogAdapter) { a.Warningf("x") }, handler: slog.LevelError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tt.log(slogAdapter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.handler}))})
			got := buf.String()
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}
