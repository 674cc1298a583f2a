package e2e

// The console page (GET / on the admin endpoint) in a real browser: the
// daemon with a MariaDB and a PostgreSQL source under a small write load,
// and a MariaDB source with a wrong password; Kafka reached through a proxy
// on the broker's proxied listener, so the outage is a blackholed path and
// the shared broker keeps running.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// pageCard is what the test reads of one card in the rendered DOM.
type pageCard struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Badge     string   `json:"badge"`
	EPS       *float64 `json:"eps"`
	Delivered *float64 `json:"delivered"`
	Error     string   `json:"error"`
	// LagPoints counts the points the lag chart's SVG draws (polyline
	// vertices and lone dots); LagPointsAttr is what the chart says.
	LagPoints     int `json:"lagPoints"`
	LagPointsAttr int `json:"lagPointsAttr"`
	// Panels lists the card's optional panels (slot, snapshot, accuracy).
	Panels      []string `json:"panels"`
	DeadLetters *float64 `json:"deadLetters"`
}

type pageState struct {
	Freshness string     `json:"freshness"`
	Stale     bool       `json:"stale"`
	Cards     []pageCard `json:"cards"`
	// ScrollWidth and Width tell whether the page overflows sideways.
	ScrollWidth int `json:"scrollWidth"`
	Width       int `json:"width"`
}

const readPage = `(() => {
  const num = (c, n) => { const e = c.querySelector('[data-figure="' + n + '"]'); const v = e && e.getAttribute('data-value'); return v === null || v === undefined ? null : Number(v); };
  return {
    freshness: document.getElementById('freshness').textContent,
    stale: document.body.classList.contains('is-stale'),
    scrollWidth: document.documentElement.scrollWidth,
    width: window.innerWidth,
    cards: Array.from(document.querySelectorAll('article.card')).map((c) => {
      const err = c.querySelector('[data-figure="last-error"]');
      const svg = c.querySelector('[data-chart="lag"] svg');
      let drawn = 0;
      if (svg) {
        svg.querySelectorAll('polyline').forEach((p) => { drawn += p.getAttribute('points').trim().split(/\s+/).length; });
        drawn += svg.querySelectorAll('circle').length;
      }
      return {
        name: c.getAttribute('data-source'), state: c.getAttribute('data-state'),
        badge: c.querySelector('.badge').textContent,
        eps: num(c, 'events-per-second'), delivered: num(c, 'events-delivered'),
        error: err ? err.textContent : '',
        lagPoints: drawn, lagPointsAttr: svg ? Number(svg.getAttribute('data-points')) : 0,
        panels: Array.from(c.querySelectorAll('[data-panel]')).map((p) => p.getAttribute('data-panel')),
        deadLetters: num(c, 'dead-letters'),
      };
    }),
  };
})()`

func (b *browser) page(t *testing.T) pageState {
	t.Helper()
	return eval[pageState](t, b, readPage)
}

func (st pageState) card(name string) (pageCard, bool) {
	i := slices.IndexFunc(st.Cards, func(c pageCard) bool { return c.Name == name })
	if i < 0 {
		return pageCard{}, false
	}
	return st.Cards[i], true
}

// pacedLoad commits one workload transaction every `every` until the test
// ends: a small, steady load, so that a rate read twice agrees.
func pacedLoad(t *testing.T, w *workload, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := w.txn(ctx); err != nil && ctx.Err() == nil {
				t.Logf("paced writer: %v", err)
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestConsoleInChromium(t *testing.T) {
	testenv.RequireTCP(t, "Kafka's proxied listener (scripts/services up kafka restarts a broker without it)", testenv.KafkaProxiedAddr())
	b := newBrowser(t)
	my := mariadb.rig(t)
	pg := postgres.rig(t)
	// Source names need not be unique across tests (topics have the test's
	// prefix, checkpoints its directory), so the screenshot reads well.
	my.Source, pg.Source = "crm", "orders"
	bad := newSetup(t)
	bad.Source = "billing"
	badSource := fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_WRONG_PASSWORD
    server_id: %d
    include: ["%s.*"]
`, bad.Source, testenv.MySQLAddr(), testenv.MySQLCDCUser, bad.ServerID, my.Database)

	proxy := testenv.StartProxyAt(t, testenv.KafkaProxyAddr(), testenv.KafkaProxiedAddr())
	cfg := my.writeConfigWith(t, "", my.source(testenv.MySQLAddr(), 5*time.Second)+pg.source(testenv.PGAddr(), 200*time.Millisecond)+badSource)
	setBrokers(t, cfg, proxy.Addr())
	withPipelineSetting(t, cfg, "stall_after: 3s")
	withConsoleInterval(t, cfg, "1s")
	d := startDaemonEnv(t, []string{"TRIBUTARY_TEST_WRONG_PASSWORD=certainly-not-the-password"}, "run", "-c", cfg)
	keepLog(t, d)
	addr := d.adminAddr(t)
	base := "http://" + addr

	pacedLoad(t, my.workload(200, 71), 50*time.Millisecond)
	pacedLoad(t, pg.workload(200, 72), 50*time.Millisecond)

	good := []string{my.Source, pg.Source}
	started := time.Now()
	b.do(t, 30*time.Second, chromedp.Navigate(base+"/"))
	const minPoints = 8
	var st pageState
	testenv.Eventually(t, 90*time.Second, fmt.Sprintf("three cards: two streaming with events and %d lag points, one failed", minPoints), func() bool {
		d.requireRunning(t)
		st = b.page(t)
		if len(st.Cards) != 3 {
			return false
		}
		for _, name := range good {
			c, ok := st.card(name)
			if !ok || c.State != "streaming" || c.EPS == nil || *c.EPS <= 0 || c.LagPoints < minPoints {
				return false
			}
		}
		c, ok := st.card(bad.Source)
		return ok && c.State == "failed"
	})
	t.Logf("cards as expected %s after the page opened", time.Since(started).Round(100*time.Millisecond))
	for _, c := range st.Cards {
		if !strings.Contains(c.Badge, c.State) {
			t.Errorf("%s: badge %q does not say its state %s in words", c.Name, c.Badge, c.State)
		}
		if c.LagPoints != c.LagPointsAttr {
			t.Errorf("%s: the lag chart draws %d points and says %d", c.Name, c.LagPoints, c.LagPointsAttr)
		}
	}
	if c, _ := st.card(bad.Source); !strings.Contains(strings.ToLower(c.Error), "access denied") {
		t.Errorf("the failed source's card shows the error %q, want MariaDB's access denied", c.Error)
	}
	if st.Stale {
		t.Errorf("the page is stale while the daemon answers: %q", st.Freshness)
	}
	// PostgreSQL's card has the slot panel, MariaDB's has none; both show
	// dead letters (none here).
	if c, _ := st.card(pg.Source); !slices.Contains(c.Panels, "slot") {
		t.Errorf("the PostgreSQL card has the panels %v, want the replication slot's", c.Panels)
	}
	for _, name := range good {
		c, _ := st.card(name)
		if name == my.Source && len(c.Panels) > 0 {
			t.Errorf("the MariaDB card has the panels %v, want none", c.Panels)
		}
		if c.DeadLetters == nil || *c.DeadLetters != 0 {
			t.Errorf("%s: dead letters %v, want 0", name, val(c.DeadLetters))
		}
	}

	// events/s against /metrics: the page's figure averages the last 6
	// samples (6 s); /metrics read 7 s apart around the page read must
	// bracket its counter and give about the same rate.
	counters := func() map[string]float64 {
		_, body := httpGet(t, base+"/metrics")
		out := map[string]float64{}
		for _, name := range good {
			out[name], _ = metricValue(body, `tributary_events_delivered_total{source="`+name+`"}`)
		}
		return out
	}
	before, tBefore := counters(), time.Now()
	time.Sleep(7 * time.Second) // the averaging window and a poll; not synchronisation
	st = b.page(t)
	after, tAfter := counters(), time.Now()
	for _, name := range good {
		c, _ := st.card(name)
		rate := (after[name] - before[name]) / tAfter.Sub(tBefore).Seconds()
		t.Logf("%s: page %.1f events/s, delivered %.0f; /metrics %.0f → %.0f, %.1f events/s", name, val(c.EPS), val(c.Delivered), before[name], after[name], rate)
		if c.Delivered == nil || *c.Delivered < before[name] || *c.Delivered > after[name] {
			t.Errorf("%s: the page's delivered counter %v is outside /metrics' %.0f … %.0f read around it", name, val(c.Delivered), before[name], after[name])
		}
		if c.EPS == nil || *c.EPS < rate/2 || *c.EPS > rate*2 {
			t.Errorf("%s: the page shows %v events/s, /metrics %.1f over the same span", name, val(c.EPS), rate)
		}
	}
	healthy := b.screenshot(t, "console")
	if out := os.Getenv("TRIBUTARY_CONSOLE_SCREENSHOT"); out != "" {
		copyFile(t, healthy, out) // docs/console.png: see the README
	}

	// A phone's width: nothing overflows sideways.
	b.do(t, 10*time.Second, chromedp.EmulateViewport(390, 844))
	testenv.Eventually(t, 10*time.Second, "the page to fit a phone's width", func() bool {
		st = b.page(t)
		return st.Width == 390 && st.ScrollWidth <= st.Width
	})
	b.screenshot(t, "console-phone")
	b.do(t, 10*time.Second, chromedp.EmulateViewport(1280, 900))

	// Kafka's path blackholed: both cards turn to the outage state (stalled,
	// then restarting once the sink gives up), and back once it heals.
	proxy.Blackhole(true)
	holed := time.Now()
	outage := func(s string) bool { return s == "stalled" || s == "restarting" }
	testenv.Eventually(t, 60*time.Second, "both cards to show the Kafka outage", func() bool {
		st = b.page(t)
		for _, name := range good {
			if c, ok := st.card(name); !ok || !outage(c.State) {
				return false
			}
		}
		return true
	})
	t.Logf("outage shown %s after the blackhole: %v", time.Since(holed).Round(100*time.Millisecond), states(st))
	b.screenshot(t, "console-outage")
	proxy.Restore()
	restored := time.Now()
	testenv.Eventually(t, 90*time.Second, "both cards to stream again", func() bool {
		st = b.page(t)
		for _, name := range good {
			if c, ok := st.card(name); !ok || c.State != "streaming" {
				return false
			}
		}
		return true
	})
	t.Logf("streaming again %s after the restore", time.Since(restored).Round(100*time.Millisecond))
	if p := b.consoleProblems(); len(p) > 0 {
		t.Errorf("the page logged errors in Chromium:\n%s", strings.Join(p, "\n"))
	}

	// The daemon gone: the page keeps its last figures and says since when
	// they are stale. Killed rather than stopped: how long a graceful stop
	// takes right after an outage is not this test's subject.
	d.kill9(t)
	testenv.Eventually(t, 20*time.Second, "the page to say it is stale", func() bool {
		st = b.page(t)
		return st.Stale && strings.HasPrefix(st.Freshness, "Stale since ") && len(st.Cards) == 3
	})
	b.screenshot(t, "console-stale")
}

// withConsoleInterval sets admin.console.sample_interval in the config at
// path (writeConfigWith's admin block).
func withConsoleInterval(t *testing.T, path, interval string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := `admin: {addr: "127.0.0.1:0"}`
	s := strings.Replace(string(b), old, `admin: {addr: "127.0.0.1:0", console: {sample_interval: `+interval+`}}`, 1)
	if s == string(b) {
		t.Fatalf("%s has no %s", path, old)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func states(st pageState) map[string]string {
	out := map[string]string{}
	for _, c := range st.Cards {
		out[c.Name] = c.State
	}
	return out
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
