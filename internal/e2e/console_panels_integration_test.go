package e2e

// The console's optional panels in Chromium, from an in-process admin
// server whose registry has them: snapshot progress, the replication slot,
// dead letters and accuracy series; and a source without them shows none.
// Then the data endpoint turns slow: the page says since when its figures
// are stale, and recovers.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestConsolePanelsInChromium(t *testing.T) {
	b := newBrowser(t)
	reg := metrics.NewRegistry()
	orders := reg.Source("orders")
	orders.SetState(metrics.StateStreaming, nil)
	orders.SetRetention(300<<20, 1<<30-300<<20, 1<<30)
	orders.DeadLetter(metrics.DeadLetterMapping)
	reg.Source("crm").SetState(metrics.StateStreaming, nil)
	orders.Accuracy().TableChecked(metrics.AccuracyTable{Table: "public.orders", Differing: 2}, 100, time.Second, time.Now())

	srv := admin.New("127.0.0.1:0", reg, nil, admin.WithConsoleInterval(time.Second))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// In front of it, a proxy that can hold /console/data past the page's
	// 5 s timeout.
	var slow atomic.Bool
	target, err := url.Parse("http://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() && r.URL.Path == "/console/data" {
			select {
			case <-time.After(8 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	// A snapshot making progress, so that its rate and ETA are known.
	stopSnapshot := make(chan struct{})
	snapDone := make(chan struct{})
	go func() {
		defer close(snapDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for rows := int64(0); ; rows += 500 {
			orders.SnapshotProgress("public.orders", rows, 1_000_000)
			select {
			case <-stopSnapshot:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stopSnapshot); <-snapDone })

	type card struct {
		Name   string   `json:"name"`
		State  string   `json:"state"`
		Panels []string `json:"panels"`
		ETA    string   `json:"eta"`
		Dead   string   `json:"dead"`
		Slot   string   `json:"slot"`
	}
	const read = `Array.from(document.querySelectorAll('article.card')).map((c) => {
		const text = (sel) => { const e = c.querySelector(sel); return e ? e.textContent : ''; };
		return {name: c.getAttribute('data-source'), state: c.getAttribute('data-state'),
			panels: Array.from(c.querySelectorAll('[data-panel]')).map((p) => p.getAttribute('data-panel')),
			eta: text('[data-panel="snapshot"] tbody td:last-child'),
			dead: text('[data-figure="dead-letters"]'), slot: text('[data-panel="slot"] p')};
	})`
	b.do(t, 20*time.Second, chromedp.Navigate(front.URL+"/"))
	var cards []card
	testenv.Eventually(t, 20*time.Second, "the orders card with its panels and a snapshot ETA", func() bool {
		cards = eval[[]card](t, b, read)
		return len(cards) == 2 && cards[1].Name == "orders" && cards[1].ETA != "" && cards[1].ETA != "—"
	})
	crm, o := cards[0], cards[1]
	if len(crm.Panels) != 0 || crm.State != "streaming" {
		t.Errorf("crm: state %s, panels %v; want streaming and none", crm.State, crm.Panels)
	}
	for _, p := range []string{"slot", "snapshot", "accuracy"} {
		if !slices.Contains(o.Panels, p) {
			t.Errorf("orders: panels %v, want %s among them", o.Panels, p)
		}
	}
	if o.State != "snapshotting" || o.Dead != "1" || o.Slot != "300 MiB retained of 1 GiB max_slot_wal_keep_size" {
		t.Errorf("orders: state %s, dead letters %q, slot %q", o.State, o.Dead, o.Slot)
	}
	t.Logf("orders: snapshot ETA %s", o.ETA)
	b.screenshot(t, "console-panels")
	// The dark scheme too, for people to look at (its contrast is checked
	// in internal/console).
	b.do(t, 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	b.screenshot(t, "console-panels-dark")
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("the page logged errors in Chromium: %v", p)
	}

	type freshness struct {
		Text  string `json:"text"`
		Stale bool   `json:"stale"`
		Cards int    `json:"cards"`
	}
	const readFreshness = `({text: document.getElementById('freshness').textContent,
		stale: document.body.classList.contains('is-stale'),
		cards: document.querySelectorAll('article.card').length})`
	slow.Store(true)
	var f freshness
	testenv.Eventually(t, 20*time.Second, "the page to say its figures are stale", func() bool {
		f = eval[freshness](t, b, readFreshness)
		return f.Stale && strings.HasPrefix(f.Text, "Stale since ") && strings.Contains(f.Text, "no answer within 5 s")
	})
	if f.Cards != 2 {
		t.Errorf("%d cards while stale, want the last 2 kept", f.Cards)
	}
	t.Logf("slow endpoint: %q", f.Text)
	slow.Store(false)
	testenv.Eventually(t, 20*time.Second, "the page to be current again", func() bool {
		f = eval[freshness](t, b, readFreshness)
		return !f.Stale && strings.HasPrefix(f.Text, "Updated ")
	})
	if p := b.consoleProblems(); len(p) > 0 {
		t.Logf("Chromium's log after the slow answers: %v", p)
	}
}
