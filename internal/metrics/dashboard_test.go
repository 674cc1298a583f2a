package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"time"
)

// TestDashboardUsesRegisteredMetrics keeps configs/grafana-dashboard.json
// in step with the metric names: every tributary_* series it queries exists.
func TestDashboardUsesRegisteredMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}

	known := registeredNames(t)

	name := regexp.MustCompile(`tributary_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				if !known[n] {
					t.Errorf("panel %q queries %s, which is not registered", p.Title, n)
				}
			}
		}
	}
	if used == 0 {
		t.Error("dashboard queries no tributary_* metric")
	}
}

// registeredNames is every series name the registry exposes, histogram
// parts included.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	r := NewRegistry()
	s := r.Source("crm")
	s.Checkpoint("p", "", time.Now(), time.Now())
	s.SetLagBytes(1)
	s.ObserveProduce(time.Millisecond)
	s.SetRetention(1, 1, 2)
	s.EventRead(time.Now())
	s.UseToast()
	s.Accuracy().TableChecked(AccuracyTable{Table: "crm.contacts"}, 1, time.Second, time.Now())
	s.Accuracy().PassDone(time.Now())
	mfs, err := r.Prometheus().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		known[n] = true
		if mf.GetType().String() == "HISTOGRAM" {
			known[n+"_bucket"], known[n+"_sum"], known[n+"_count"] = true, true, true
		}
	}
	return known
}
