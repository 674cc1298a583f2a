package metrics

import "github.com/prometheus/client_golang/prometheus"

var toastUnfilledDesc = prometheus.NewDesc("tributary_toast_unfilled_total",
	"Unchanged TOASTed columns an update carried as absent because the TOAST cache had no value for them (postgres.toast: fill; started after the row was written without a snapshot, evicted, or a replay).",
	[]string{"source"}, nil)

// toastCollector reports the TOAST fill counter of the sources that fill
// (from their first UseToast on; 0 until a column stays unfilled).
type toastCollector struct{ r *Registry }

func (c *toastCollector) Describe(ch chan<- *prometheus.Desc) { ch <- toastUnfilledDesc }

func (c *toastCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.list() {
		if s.toastOn.Load() {
			ch <- prometheus.MustNewConstMetric(toastUnfilledDesc, prometheus.CounterValue, float64(s.toastUnfilled.Load()), s.name)
		}
	}
}

// UseToast makes tributary_toast_unfilled_total appear for the source
// (at 0): it fills unchanged TOASTed columns.
func (s *Source) UseToast() {
	if s != nil {
		s.toastOn.Store(true)
	}
}

// ToastUnfilled counts n columns left absent for want of a cached value.
func (s *Source) ToastUnfilled(n int) {
	if s == nil {
		return
	}
	s.toastOn.Store(true)
	s.toastUnfilled.Add(uint64(n))
}
