package e2e

// A headless Chromium (Debian's chromium package, installed by
// scripts/services) driven over the DevTools protocol with chromedp, for
// the console page: what a person sees is read from the rendered DOM, and
// every console error and uncaught exception of the page is collected.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser: $TRIBUTARY_CHROMIUM, else Debian's.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TRIBUTARY_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("no Chromium at %s (%v): scripts/services up installs Debian's chromium package; or set TRIBUTARY_CHROMIUM", path, err)
	}
	return path
}

// browser is one headless Chromium with one tab.
type browser struct {
	ctx  context.Context // the tab's
	done chan struct{}   // closed when the console reader ends

	mu       sync.Mutex
	problems []string // console errors and exceptions, in order
}

// newBrowser starts Chromium with a fresh profile; it is stopped when the
// test ends. The flags keep it off the network (this machine's is closed,
// and a refused background connection would only be noise) and out of the
// sandbox it cannot set up as root.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &browser{ctx: ctx, done: make(chan struct{})}
	// Console starts the browser and subscribes before any page loads, so
	// no message is lost.
	messages := chromedp.Console(ctx)
	go func() {
		defer close(b.done)
		for m, err := range messages {
			if err != nil {
				return // the tab closed
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.problem("%s at %s:%d", m, m.URL, m.Line)
			}
		}
	}()
	t.Cleanup(func() { cancelTab(); cancelAlloc(); <-b.done })
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("1")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

// consoleProblems returns the console errors and exceptions so far.
func (b *browser) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// do runs actions in the tab, bounded by timeout.
func (b *browser) do(t *testing.T, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page into a T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("chromium: evaluate: %v", err)
	}
	return v
}

// screenshot saves the whole page as a PNG under the test's artifact
// directory and returns its path.
func (b *browser) screenshot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// artifactDir is where a test leaves files for people to look at:
// $TRIBUTARY_ARTIFACTS_DIR/<test>, else a directory under the system's
// temporary one. It is kept after the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("TRIBUTARY_ARTIFACTS_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "tributary-artifacts")
	}
	dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
