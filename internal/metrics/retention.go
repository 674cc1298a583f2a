package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	retainedDesc = prometheus.NewDesc("tributary_slot_retained_wal_bytes",
		"WAL the PostgreSQL server retains for the source's replication slot (current WAL position minus restart_lsn).",
		[]string{"source"}, nil)
	safeDesc = prometheus.NewDesc("tributary_slot_safe_wal_bytes",
		"WAL the server may still write before max_slot_wal_keep_size lets it invalidate the slot (pg_replication_slots.safe_wal_size); absent without a limit.",
		[]string{"source"}, nil)
	keepMaxDesc = prometheus.NewDesc("tributary_slot_wal_keep_max_bytes",
		"The server's max_slot_wal_keep_size in bytes; absent when unlimited (-1).",
		[]string{"source"}, nil)
)

// retention is what SetRetention recorded.
type retention struct{ retained, safe, limit int64 }

// SetRetention records the log the server keeps for the source, how much
// more may be written before it may drop what the source needs, and the
// limit (safe and limit -1: no limit). Until it is first called the slot
// series are absent for the source.
func (s *Source) SetRetention(retained, safe, limit int64) {
	if s == nil {
		return
	}
	s.retention.Store(&retention{retained, safe, limit})
}

// retentionCollector reports SetRetention's values.
type retentionCollector struct{ r *Registry }

func (c *retentionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- retainedDesc
	ch <- safeDesc
	ch <- keepMaxDesc
}

func (c *retentionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.list() {
		v := s.retention.Load()
		if v == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(retainedDesc, prometheus.GaugeValue, float64(v.retained), s.name)
		if v.limit >= 0 {
			ch <- prometheus.MustNewConstMetric(safeDesc, prometheus.GaugeValue, float64(v.safe), s.name)
			ch <- prometheus.MustNewConstMetric(keepMaxDesc, prometheus.GaugeValue, float64(v.limit), s.name)
		}
	}
}
