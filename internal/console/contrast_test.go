package console

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The page's text colours keep WCAG AA's 4.5:1 against their backgrounds in
// both colour schemes (app.css: the first :root block is light, the one in
// the prefers-color-scheme: dark query is dark).
func TestTextContrast(t *testing.T) {
	t.Parallel()
	css, err := web.ReadFile("web/app.css")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile(`(?s):root\s*\{(.*?)\}`).FindAllStringSubmatch(string(css), -1)
	if len(blocks) != 2 {
		t.Fatalf("%d :root blocks in app.css, want the light and the dark one", len(blocks))
	}
	pairs := [][2]string{
		{"fg", "card"}, {"fg", "bg"}, {"muted", "card"}, {"muted", "bg"}, {"accent", "card"},
		{"ok-fg", "ok-bg"}, {"info-fg", "info-bg"}, {"warn-fg", "warn-bg"}, {"bad-fg", "bad-bg"}, {"idle-fg", "idle-bg"},
	}
	for i, scheme := range []string{"light", "dark"} {
		vars := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(blocks[i][1], -1) {
			vars[m[1]] = m[2]
		}
		for _, p := range pairs {
			fg, bg := vars[p[0]], vars[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s: --%s or --%s is not a #rrggbb colour", scheme, p[0], p[1])
				continue
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s: --%s %s on --%s %s has a contrast of %.2f, want at least 4.5", scheme, p[0], fg, p[1], bg, r)
			}
		}
	}
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	hex = strings.TrimPrefix(hex, "#")
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
