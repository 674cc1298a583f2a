package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/metrics"
)

func TestFormatStatus(t *testing.T) {
	t.Parallel()
	ms := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		sts  []metrics.SourceStatus
		want string
	}{
		{
			name: "no sources",
			want: "SOURCE  STATE  LAG  CHECKPOINT  CHECKPOINT-AGE  IN-FLIGHT  DELIVERED  ERRORS  LAST-ERROR\n",
		},
		{
			name: "streaming, starting and failed",
			sts: []metrics.SourceStatus{
				{Name: "billing", State: "failed", LastError: "binlog purged:\n  rewind or re-snapshot", Errors: 1,
					CheckpointPosition: "mariadb-bin.000003:4", CheckpointAgeMs: ms(3 * 3600 * 1000), LagMs: ms(49 * 3600 * 1000)},
				{Name: "crm", State: "streaming", CheckpointPosition: "mariadb-bin.000001:4711@0-1-89",
					LagMs: ms(350), LagBytes: ms(1536), CheckpointAgeMs: ms(4200), InFlight: 12, EventsDelivered: 50000},
				{Name: "pg", State: "starting"},
			},
			want: "" +
				"SOURCE   STATE      LAG              CHECKPOINT                      CHECKPOINT-AGE  IN-FLIGHT  DELIVERED  ERRORS  LAST-ERROR\n" +
				"billing  failed     2d01h            mariadb-bin.000003:4            3h00m           0          0          1       binlog purged: rewind or re-snapshot\n" +
				"crm      streaming  350ms (1.5 KiB)  mariadb-bin.000001:4711@0-1-89  4.2s            12         50000      0       -\n" +
				"pg       starting   -                -                               -               0          0          0       -\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := formatStatus(&buf, tc.sts); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Errorf("formatStatus:\n%s\nwant:\n%s", buf.String(), tc.want)
			}
		})
	}
}

func TestFormatMs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "0ms"},
		{999, "999ms"},
		{1000, "1.0s"},
		{4250, "4.2s"},
		{59_999, "60.0s"},
		{60_000, "1m00s"},
		{184_000, "3m04s"},
		{3_600_000, "1h00m"},
		{7_500_000, "2h05m"},
		{48 * 3_600_000, "2d00h"},
		{(3*24 + 4) * 3_600_000, "3d04h"},
	}
	for _, tc := range tests {
		if got := formatMs(&tc.ms); got != tc.want {
			t.Errorf("formatMs(%d) = %q, want %q", tc.ms, got, tc.want)
		}
	}
	if got := formatMs(nil); got != "-" {
		t.Errorf("formatMs(nil) = %q", got)
	}
}

func TestFormatBytesAndError(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	long := strings.Repeat("é", 100)
	if got := formatError(long); len([]rune(got)) != lastErrorWidth || !strings.HasSuffix(got, "…") {
		t.Errorf("formatError(long) = %q", got)
	}
	if got := formatError("a\n\tb"); got != "a b" {
		t.Errorf("formatError = %q", got)
	}
}

func TestCmdStatusFromDaemon(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	s := reg.Source("crm")
	s.SetState(metrics.StateStreaming, nil)
	s.Checkpoint("mariadb-bin.000001:900", time.Now(), time.Now())
	s.Delivered(7, 700)
	srv := httptest.NewServer(admin.New("", reg, nil).Handler())
	defer srv.Close()

	var out bytes.Buffer
	if err := cmdStatus([]string{"--addr", srv.Listener.Addr().String()}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SOURCE") {
		t.Fatalf("output:\n%s", out.String())
	}
	f := strings.Fields(lines[1])
	if f[0] != "crm" || f[1] != "streaming" || f[3] != "mariadb-bin.000001:900" || f[6] != "7" {
		t.Errorf("row %q", lines[1])
	}
}

func TestCmdStatusErrors(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	notTributary := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notTributary.Close)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) }))
	t.Cleanup(garbage.Close)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"not running", []string{"--addr", closed}, "no tributary answering at " + closed + ": is it running? (admin.addr): connect: connection refused"},
		{"something else answers", []string{"--addr", notTributary.Listener.Addr().String()}, "404 Not Found: is it a tributary admin address?"},
		{"not JSON", []string{"--addr", garbage.Listener.Addr().String()}, "not a tributary status"},
		{"config missing", []string{"-c", "/nonexistent/tributary.yaml"}, "/nonexistent/tributary.yaml: read config"},
		{"stray argument", []string{"--addr", closed, "extra"}, `status: unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := cmdStatus(tc.args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("cmdStatus(%q) = %v, want it to contain %q", tc.args, err, tc.want)
			}
			if tc.name == "stray argument" && !errors.Is(err, errUsage) {
				t.Errorf("stray argument is not a usage error: %v", err)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on error", out.String())
			}
		})
	}
}
