package e2e

// The console with admin.auth: the page opens without the token, asks for
// it once its data is refused, and shows the cards after it is given.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestConsoleAsksForTheAdminToken(t *testing.T) {
	const token = "console-test-token-4f9a"
	b := newBrowser(t)
	reg := metrics.NewRegistry()
	reg.Source("crm").SetState(metrics.StateStreaming, nil)
	srv := admin.New("127.0.0.1:0", reg, nil,
		admin.WithBearerToken(func() (string, error) { return token, nil }), admin.WithConsoleInterval(time.Second))
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	type view struct {
		FormShown bool   `json:"formShown"`
		Freshness string `json:"freshness"`
		Cards     int    `json:"cards"`
		Stale     bool   `json:"stale"`
	}
	const read = `({formShown: !document.getElementById('token-form').hidden,
		freshness: document.getElementById('freshness').textContent,
		cards: document.querySelectorAll('article.card').length,
		stale: document.body.classList.contains('is-stale')})`
	b.do(t, 20*time.Second, chromedp.Navigate("http://"+srv.Addr()+"/"))
	var v view
	testenv.Eventually(t, 15*time.Second, "the page to ask for the token", func() bool {
		v = eval[view](t, b, read)
		return v.FormShown && v.Stale && strings.Contains(v.Freshness, "token")
	})
	if v.Cards != 0 {
		t.Errorf("%d cards without the token", v.Cards)
	}
	b.do(t, 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#token-form button")))
	testenv.Eventually(t, 15*time.Second, "the card once the token is given", func() bool {
		v = eval[view](t, b, read)
		return !v.FormShown && !v.Stale && v.Cards == 1
	})
	// The refused polls are the only errors Chromium logs.
	for _, p := range b.consoleProblems() {
		if !strings.Contains(p, "401") {
			t.Errorf("the page logged: %s", p)
		}
	}
	for _, p := range b.consoleProblems() {
		if strings.Contains(p, token) {
			t.Errorf("the console log shows the token: %s", p)
		}
	}
}
