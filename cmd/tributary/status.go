package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/metrics"
)

// statusTimeout bounds the whole request: the admin server answers from
// memory, so anything slower means it is not healthy.
const statusTimeout = 5 * time.Second

// lastErrorWidth keeps the table on one line per source.
const lastErrorWidth = 80

// cmdStatus prints every source of a running daemon as a table, from its
// admin server's /status. --addr overrides the config's admin address; the
// config is then read only when -c is given, for admin.auth and admin.tls.
func cmdStatus(args []string, stdout io.Writer) error {
	fs, path := newFlags("status")
	addr := fs.String("addr", "", "admin address host:port (default: admin.addr from the config; with --addr the config is read only when -c is given, for admin.auth and admin.tls)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ac config.Admin // with --addr alone: plain HTTP, no token
	if *addr == "" || flagGiven(fs, "c") {
		cfg, err := config.Load(*path)
		if err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		ac = cfg.Admin
	}
	if *addr == "" {
		*addr = ac.Addr
	}
	client, err := newAdminClient(ac, *addr)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	sts, err := client.fetchStatus(ctx)
	if err != nil {
		return err
	}
	return formatStatus(stdout, sts)
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// adminClient talks to a daemon's admin server as its config says: HTTPS
// when admin.tls is set (trusting admin.tls.ca_file, else the system
// roots), with the admin.auth bearer token when one is configured.
type adminClient struct {
	addr  string // as given, for messages
	base  string // scheme://host:port actually dialled
	token string
	auth  string // the config key the token comes from, "" without
	http  *http.Client
}

// newAdminClient reads the token and the CA file of a now. An address on
// every interface (0.0.0.0, ::, no host) is reached on loopback.
func newAdminClient(a config.Admin, addr string) (*adminClient, error) {
	token, err := a.Token()
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	tlsCfg, err := a.ClientTLS(host)
	if err != nil {
		return nil, err
	}
	c := &adminClient{addr: addr, token: token, base: "http://" + net.JoinHostPort(host, port),
		// Straight to the daemon, never through an HTTP proxy from the
		// environment.
		http: &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsCfg}}}
	if tlsCfg != nil {
		c.base = "https://" + net.JoinHostPort(host, port)
	}
	switch {
	case a.Auth.BearerTokenEnv != "":
		c.auth = "admin.auth.bearer_token_env"
	case a.Auth.BearerTokenFile != "":
		c.auth = "admin.auth.bearer_token_file"
	}
	return c, nil
}

// do sends the request for path ("/status", "/snapshot?…").
func (c *adminClient) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", c.addr, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.http.Do(req)
}

// refusal explains an answer that is not the one wanted, or returns nil
// when it is not about the token or TLS.
func (c *adminClient) refusal(resp *http.Response, body []byte) error {
	switch {
	case resp.StatusCode == http.StatusUnauthorized && c.auth == "":
		return fmt.Errorf("the daemon at %s requires a bearer token (%s): give the config whose admin.auth names it with -c", c.addr, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the daemon at %s did not accept the token of %s (%s): is it the daemon's token?", c.addr, c.auth, resp.Status)
	case resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), "HTTPS server"):
		return fmt.Errorf("the daemon at %s serves HTTPS: set admin.tls in the config given with -c", c.addr)
	}
	return nil
}

// fetchStatus gets and decodes /status.
func (c *adminClient) fetchStatus(ctx context.Context) ([]metrics.SourceStatus, error) {
	url := c.base + "/status"
	resp, err := c.do(ctx, http.MethodGet, "/status")
	if p := tlsProblem(c.addr, err); p != nil {
		return nil, p
	}
	if err != nil {
		return nil, fmt.Errorf("no tributary answering at %s: is it running? (admin.addr): %w", c.addr, netCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err := c.refusal(resp, body); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s answered %s: is it a tributary admin address? (admin.addr)", url, resp.Status)
	}
	var sts []metrics.SourceStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&sts); err != nil {
		return nil, fmt.Errorf("%s: not a tributary status (admin.addr): %w", url, err)
	}
	return sts, nil
}

// netCause strips the request and URL from a client error, leaving e.g.
// "connect: connection refused".
func netCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", statusTimeout)
	}
	return err
}

// tlsProblem names the admin.tls key behind a TLS failure of a client
// error, nil when it is not one.
func tlsProblem(addr string, err error) error {
	var (
		verify *tls.CertificateVerificationError
		header tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &verify):
		return fmt.Errorf("the certificate of the daemon at %s did not verify: it must be signed by admin.tls.ca_file (else the system roots) and carry the host dialled: %w", addr, verify.Err)
	case errors.Is(err, http.ErrSchemeMismatch):
		return fmt.Errorf("the daemon at %s answers plain HTTP, not HTTPS: admin.tls is set in this config, not in the daemon's", addr)
	case errors.As(err, &header):
		return fmt.Errorf("whatever answers at %s does not speak TLS (admin.tls, admin.addr)", addr)
	}
	return nil
}

// formatStatus writes sts as an aligned table, one line per source.
func formatStatus(w io.Writer, sts []metrics.SourceStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATE\tLAG\tCHECKPOINT\tCHECKPOINT-AGE\tIN-FLIGHT\tDELIVERED\tERRORS\tLAST-ERROR")
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n",
			st.Name, st.State, formatLag(st), orDash(st.CheckpointPosition), formatMs(st.CheckpointAgeMs),
			st.InFlight, st.EventsDelivered, st.Errors, formatError(st.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return formatAccuracy(w, sts, time.Now())
}

// formatLag is the time lag, with the lag in bytes when the source reports it.
func formatLag(st metrics.SourceStatus) string {
	lag := formatMs(st.LagMs)
	if st.LagBytes != nil {
		lag += " (" + formatBytes(*st.LagBytes) + ")"
	}
	return lag
}

// formatMs renders a duration in milliseconds compactly: 350ms, 4.2s,
// 3m04s, 2h05m, 3d04h; "-" when unknown.
func formatMs(ms *int64) string {
	if ms == nil {
		return "-"
	}
	d := time.Duration(*ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", *ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// formatBytes renders n in binary units: 512 B, 4.0 KiB, 1.5 MiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// formatError keeps an error on one table line.
func formatError(s string) string {
	if s == "" {
		return "-"
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > lastErrorWidth {
		s = string(r[:lastErrorWidth-1]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
