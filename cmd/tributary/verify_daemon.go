package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/verify"
)

// errNoMonitor means the daemon cannot answer from its accuracy monitor
// (not running, the monitor off for the source, paused): verify then
// rereads the topics itself.
var errNoMonitor = errors.New("no accuracy monitor to ask")

// verifyByDaemon asks the running daemon (at addr, "" for admin.addr) to
// compare tables with its accuracy monitor's digests: no topic is read
// again, only the source tables. table is "" for every captured table.
func verifyByDaemon(ctx context.Context, cfg *config.Config, addr, source, table string) (verify.Report, error) {
	if addr == "" {
		addr = cfg.Admin.Addr
	}
	client, err := newAdminClient(cfg.Admin, addr)
	if err != nil {
		return verify.Report{}, err
	}
	q := url.Values{"source": {source}}
	if table != "" {
		q.Set("table", table)
	}
	resp, err := client.do(ctx, http.MethodPost, "/verify?"+q.Encode())
	if err != nil {
		return verify.Report{}, fmt.Errorf("%w: no daemon answering at %s (%v)", errNoMonitor, addr, netCause(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		if err := client.refusal(resp, body); err != nil {
			return verify.Report{}, err
		}
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusConflict {
			return verify.Report{}, fmt.Errorf("%w: %s", errNoMonitor, orDash(e.Error))
		}
		return verify.Report{}, fmt.Errorf("verify by the daemon at %s: %s: %s", addr, resp.Status, orDash(e.Error))
	}
	var rep verify.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return rep, fmt.Errorf("verify by the daemon at %s: not a report: %w", addr, err)
	}
	return rep, nil
}
