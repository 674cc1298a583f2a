package main

import (
	"context"
	"encoding/json"
	"errors"
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

// statusClient goes straight to the daemon, never through an HTTP proxy
// from the environment.
var statusClient = &http.Client{Transport: &http.Transport{Proxy: nil}}

// lastErrorWidth keeps the table on one line per source.
const lastErrorWidth = 80

// cmdStatus prints every source of a running daemon as a table, from its
// admin server's /status. --addr overrides the config's admin address.
func cmdStatus(args []string, stdout io.Writer) error {
	fs, path := newFlags("status")
	addr := fs.String("addr", "", "admin address host:port (default: admin.addr from the config)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *addr == "" {
		a, err := configAdminAddr(*path)
		if err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		*addr = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	sts, err := fetchStatus(ctx, *addr)
	if err != nil {
		return err
	}
	return formatStatus(stdout, sts)
}

// configAdminAddr is the admin address the config at path sets.
func configAdminAddr(path string) (string, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return "", err
	}
	return cfg.Admin.Addr, nil
}

// fetchStatus gets and decodes http://addr/status.
func fetchStatus(ctx context.Context, addr string) ([]metrics.SourceStatus, error) {
	url := "http://" + addr + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", addr, err)
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no tributary answering at %s: is it running? (admin.addr): %w", addr, netCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
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

// formatStatus writes sts as an aligned table, one line per source.
func formatStatus(w io.Writer, sts []metrics.SourceStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATE\tLAG\tCHECKPOINT\tCHECKPOINT-AGE\tIN-FLIGHT\tDELIVERED\tERRORS\tLAST-ERROR")
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n",
			st.Name, st.State, formatLag(st), orDash(st.CheckpointPosition), formatMs(st.CheckpointAgeMs),
			st.InFlight, st.EventsDelivered, st.Errors, formatError(st.LastError))
	}
	return tw.Flush()
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
