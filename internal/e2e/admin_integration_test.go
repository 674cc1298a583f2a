package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The admin endpoint shows delivery, lag and the checkpoint per source, and
// `tributary status` prints them.
func TestAdminEndpointExposesLagAndCheckpoint(t *testing.T) {
	s := newSetup(t)
	db, c := prepare(t, s)
	d := startDaemon(t, "run", "-c", s.writeConfig(t, ""))
	d.waitStreaming(t)
	base := "http://" + d.adminAddr(t)

	w := newWorkload(db, s.Database, 100, 21)
	if err := w.run(context.Background(), 300); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, c, w, time.Minute)

	label := `{source="` + s.Source + `"}`
	var body string
	testenv.Eventually(t, 30*time.Second, "metrics to show every delivered event and a checkpoint", func() bool {
		_, body = httpGet(t, base+"/metrics")
		delivered, _ := metricValue(body, "tributary_events_delivered_total"+label)
		_, lag := metricValue(body, "tributary_lag_milliseconds"+label)
		_, age := metricValue(body, "tributary_checkpoint_age_seconds"+label)
		_, lagBytes := metricValue(body, "tributary_lag_bytes"+label)
		return delivered >= float64(w.changes) && lag && age && lagBytes
	})
	if up, _ := metricValue(body, "tributary_source_up"+label); up != 1 {
		t.Errorf("tributary_source_up = %v, want 1", up)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK || !strings.Contains(body, s.Source) {
		t.Errorf("/readyz = %d %s, want 200 naming the source", code, body)
	}
	out, err := runCLI(t, "status", "--addr", d.adminAddr(t))
	if err != nil || !strings.Contains(out, s.Source) || !strings.Contains(out, "streaming") {
		t.Errorf("tributary status: %v\n%s", err, out)
	}
	d.stop(t)
}
