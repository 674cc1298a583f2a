package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

// clock is a settable time source shared by the registry and the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a registry and a console on one clock, sampling every second.
type rig struct {
	clock *clock
	reg   *metrics.Registry
	con   *Console
}

func newRig(t *testing.T) *rig {
	t.Helper()
	c := newClock()
	reg := metrics.NewRegistry(metrics.WithClock(c.now))
	return &rig{clock: c, reg: reg, con: New(reg.Prometheus(), reg.Statuses, time.Second, WithClock(c.now))}
}

// data fetches and decodes GET /console/data.
func (r *rig) data(t *testing.T) Data {
	t.Helper()
	rec := httptest.NewRecorder()
	r.con.Data().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/data", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /console/data = %d %s", rec.Code, rec.Body)
	}
	var d Data
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return d
}

func (r *rig) card(t *testing.T, name string) Card {
	t.Helper()
	for _, c := range r.data(t).Sources {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no card for %s", name)
	return Card{}
}

func val(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
