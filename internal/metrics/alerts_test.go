package metrics

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// TestAlertRules checks configs/prometheus/alerts.yaml with Prometheus' own
// promtool (`check rules`, then the unit tests in
// configs/prometheus/alerts.test.yaml) and that every tributary_* series
// the rules query is registered.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: scripts/services up installs it (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts.test.yaml"},
	} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = "../../configs/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}

	rules, err := os.ReadFile("../../configs/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := registeredNames(t)
	used := regexp.MustCompile(`tributary_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("the rules query no tributary_* series")
	}
	for _, n := range used {
		if !known[n] {
			t.Errorf("a rule queries %s, which is not registered", n)
		}
	}
}
