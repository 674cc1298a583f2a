package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
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
	s.Checkpoint("mariadb-bin.000001:900", "", time.Now(), time.Now())
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

// writeAdminConfig writes a config whose admin section is adminYAML (a
// flow mapping) and whose other servers are unreachable.
func writeAdminConfig(t *testing.T, adminYAML string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.yaml")
	cfg := fmt.Sprintf(`checkpoints: {dir: %s}
kafka: {brokers: ["127.0.0.1:1"]}
admin: %s
sources:
  - {name: crm, addr: "127.0.0.1:1", user: u, password: p, server_id: 5, include: ["shop.*"]}
`, filepath.Join(dir, "checkpoints"), adminYAML)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAdmin serves the admin section a as the daemon builds it, on a free
// loopback port, until the test ends; it returns the address.
func runAdmin(t *testing.T, a config.Admin, reg *metrics.Registry, onSnapshot admin.SnapshotFunc) string {
	t.Helper()
	srv := admin.New("127.0.0.1:0", reg, nil, a.ServerOptions()...)
	if onSnapshot != nil {
		srv.OnSnapshot(onSnapshot)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Addr()
}

// writeToken writes tok to a file and returns its path.
func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// `tributary status` sends the config's token and talks HTTPS when
// admin.tls is set; each mismatch names what to fix.
func TestCmdStatusAuthAndTLS(t *testing.T) {
	t.Parallel()
	certs, otherCA := testenv.WriteCerts(t), testenv.WriteCerts(t).CA
	right, wrong := writeToken(t, "right-token"), writeToken(t, "wrong-token")
	reg := metrics.NewRegistry()
	reg.Source("crm").SetState(metrics.StateStreaming, nil)

	tlsBlock := fmt.Sprintf("{cert_file: %s, key_file: %s, ca_file: %s}", certs.ServerCert, certs.ServerKey, certs.CA)
	secured := runAdmin(t, config.Admin{Auth: config.AdminAuth{BearerTokenFile: right},
		TLS: config.AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, reg, nil)
	plain := runAdmin(t, config.Admin{Auth: config.AdminAuth{BearerTokenFile: right}}, reg, nil)

	tests := []struct {
		name string
		args []string
		want string // "" for success
	}{
		{"token and TLS from the config", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}, tls: %s}", secured, right, tlsBlock))}, ""},
		{"token over HTTP, --addr with -c", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{auth: {bearer_token_file: %s}}", right)), "--addr", plain}, ""},
		{"no token", []string{"--addr", plain}, "the daemon at " + plain + " requires a bearer token (401 Unauthorized): give the config whose admin.auth names it with -c"},
		{"wrong token", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}}", plain, wrong))},
			"the daemon at " + plain + " did not accept the token of admin.auth.bearer_token_file (401 Unauthorized)"},
		{"token file missing", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{addr: %q, auth: {bearer_token_file: /nonexistent/token}}", plain))},
			"admin.auth.bearer_token_file: open /nonexistent/token"},
		{"HTTP to the HTTPS server", []string{"--addr", secured}, "the daemon at " + secured + " serves HTTPS: set admin.tls"},
		{"HTTPS to the HTTP server", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}, tls: %s}", plain, right, tlsBlock))},
			"the daemon at " + plain + " answers plain HTTP, not HTTPS"},
		{"another CA", []string{"-c", writeAdminConfig(t, fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}, tls: {cert_file: %s, key_file: %s, ca_file: %s}}",
			secured, right, certs.ServerCert, certs.ServerKey, otherCA))}, "the certificate of the daemon at " + secured + " did not verify: it must be signed by admin.tls.ca_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := cmdStatus(tc.args, &out)
			if tc.want == "" {
				if err != nil || !strings.Contains(out.String(), "crm") || !strings.Contains(out.String(), "streaming") {
					t.Errorf("status: %v\n%s", err, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("status: %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "right-token") || strings.Contains(err.Error(), "wrong-token")) {
				t.Errorf("the error quotes a token: %v", err)
			}
		})
	}
}

func TestNewAdminClientDialsLoopbackForAllInterfaces(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"0.0.0.0:9464":   "http://127.0.0.1:9464",
		":9464":          "http://127.0.0.1:9464",
		"[::]:9464":      "http://[::1]:9464",
		"10.0.0.5:9464":  "http://10.0.0.5:9464",
		"localhost:9464": "http://localhost:9464",
	} {
		c, err := newAdminClient(config.Admin{}, addr)
		if err != nil || c.base != want {
			t.Errorf("newAdminClient(%q): %v %v, want base %s", addr, c, err, want)
		}
	}
}

func TestFormatAccuracy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sts := []metrics.SourceStatus{
		{Name: "crm", Accuracy: &metrics.AccuracyStatus{Tables: []metrics.AccuracyTable{
			{Table: "crm.customers", LastPassAt: now.Add(-90 * time.Second), PassDurationMs: 1200, RowsChecked: 500, Extra: 1, ExtraKeys: []string{`{"id":7}`}},
			{Table: "crm.orders", LastPassAt: now.Add(-time.Minute), RowsChecked: 10},
		}}},
		{Name: "erp"},
		{Name: "orders", Accuracy: &metrics.AccuracyStatus{Paused: "the state holds 2 bytes"}},
	}
	var b strings.Builder
	if err := formatAccuracy(&b, sts, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"ACCURACY", "crm.customers", "1m30s ago", "1.2s", `{"id":7}`, "orders (paused: the state holds 2 bytes)", "no pass yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("accuracy table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "erp") {
		t.Errorf("a source without a monitor is listed:\n%s", out)
	}
	var none strings.Builder
	if err := formatAccuracy(&none, []metrics.SourceStatus{{Name: "erp"}}, now); err != nil || none.Len() != 0 {
		t.Errorf("no monitor: %q, %v; want nothing", none.String(), err)
	}
}
