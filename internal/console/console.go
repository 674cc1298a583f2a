// Package console is the operator's web page on the admin endpoint: one
// card per source with its state, lag, throughput, checkpoint, snapshot
// progress and, where the series exist, the replication slot, dead letters
// and accuracy; and charts of lag and throughput over the last hour.
//
//	GET /                the page (static, embedded: works offline)
//	GET /console/app.js  its script
//	GET /console/app.css its style
//	GET /console/data    JSON Data, which the page polls
//
// Every figure comes from the series /metrics exports: a sampler gathers
// the same Prometheus registry every interval and keeps History of each
// source's samples in a ring (bounded memory; see sampler). States, error
// texts and positions come from the sources' metrics.SourceStatus, as
// /status has them. The page and its assets carry no data, so they are open
// like /healthz; /console/data carries what /status does and the admin
// server guards it with the same token.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

// DefaultInterval is how often the registry is sampled unless configured:
// 720 samples make the hour of history.
const DefaultInterval = 5 * time.Second

// Bounds of the sample interval: below a second the gathers cost more than
// they tell; above a minute the charts lose their shape.
const (
	MinInterval = time.Second
	MaxInterval = time.Minute
)

//go:embed web
var web embed.FS

// Console serves the page and samples the registry.
type Console struct {
	statuses func() []metrics.SourceStatus
	sampler  *sampler
	now      func() time.Time
}

// Option configures a Console.
type Option func(*Console)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option {
	return func(c *Console) { c.now = now }
}

// New returns a console over the registry g (what /metrics serves) and the
// sources' statuses, sampling every interval (clamped to MinInterval …
// MaxInterval; 0 is DefaultInterval). Sampling starts with Run.
func New(g prometheus.Gatherer, statuses func() []metrics.SourceStatus, interval time.Duration, opts ...Option) *Console {
	if interval == 0 {
		interval = DefaultInterval
	}
	interval = min(max(interval, MinInterval), MaxInterval)
	if statuses == nil {
		statuses = func() []metrics.SourceStatus { return nil }
	}
	c := &Console{statuses: statuses, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.sampler = newSampler(g, interval, c.now)
	return c
}

// Run samples until ctx is done. Without it the page shows the sources'
// states but no figures or charts.
func (c *Console) Run(ctx context.Context) { c.sampler.run(ctx) }

// Sample gathers once now (tests; Run does it every interval).
func (c *Console) Sample() { c.sampler.sample() }

// Page serves the page and its assets: mount it on "GET /{$}" and
// "GET /console/{asset}". Other asset names are 404.
func (c *Console) Page() http.Handler {
	assets, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := map[string]string{
		"/":                "index.html",
		"/console/app.js":  "app.js",
		"/console/app.css": "app.css",
	}
	types := map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, err := fs.ReadFile(assets, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		securityHeaders(w)
		w.Header().Set("Content-Type", types[name])
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}

// Data serves the page's JSON.
func (c *Console) Data() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		views, sampledAt := c.sampler.read()
		d := build(c.now(), c.sampler.interval, c.statuses(), views, sampledAt)
		securityHeaders(w)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(d) // the client went away; nothing to do
	})
}

// securityHeaders: the page loads only its own script and style and talks
// only to its own origin; no inline script can run, no other site can
// frame it, and nothing of its address leaks in a Referer.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}
