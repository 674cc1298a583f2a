package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	lagDesc = prometheus.NewDesc("tributary_lag_milliseconds",
		"Now minus the source commit time of the last checkpointed (Kafka-acked) transaction; grows while the source is stuck or idle.",
		[]string{"source"}, nil)
	ageDesc = prometheus.NewDesc("tributary_checkpoint_age_seconds",
		"Now minus the time the last checkpoint was saved.",
		[]string{"source"}, nil)
	commitTSDesc = prometheus.NewDesc("tributary_checkpoint_commit_timestamp_seconds",
		"Source commit time of the last checkpointed transaction, Unix seconds.",
		[]string{"source"}, nil)
	savedTSDesc = prometheus.NewDesc("tributary_checkpoint_saved_timestamp_seconds",
		"When the last checkpoint was saved, Unix seconds.",
		[]string{"source"}, nil)
	lagBytesDesc = prometheus.NewDesc("tributary_lag_bytes",
		"Bytes of binlog/WAL between the source's read position and the server's current position.",
		[]string{"source"}, nil)
	lastEventDesc = prometheus.NewDesc("tributary_source_last_event_timestamp_seconds",
		"When the daemon last read a row change from the source, Unix seconds: old with a lag near zero is an idle source, old with a growing lag a stuck one.",
		[]string{"source"}, nil)
	stalledDesc = prometheus.NewDesc("tributary_source_stalled",
		"1 while the server has written past the checkpoint and the checkpoint has not moved for stall_after; /readyz is 503 then.",
		[]string{"source"}, nil)
)

// scrapeCollector reports the values that depend on the time of the scrape,
// so that lag keeps growing when nothing reaches the pipeline. A source's
// series are absent until the value is known.
type scrapeCollector struct{ r *Registry }

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lagDesc, ageDesc, commitTSDesc, savedTSDesc, lagBytesDesc, lastEventDesc, stalledDesc} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.r.now()
	for _, s := range c.r.list() {
		v := s.scrapeValues()
		if !v.commitTime.IsZero() {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(sinceMs(now, v.commitTime)), s.name)
			ch <- prometheus.MustNewConstMetric(commitTSDesc, prometheus.GaugeValue, unixSeconds(v.commitTime.UnixMilli()), s.name)
		}
		if !v.savedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, max(now.Sub(v.savedAt).Seconds(), 0), s.name)
			ch <- prometheus.MustNewConstMetric(savedTSDesc, prometheus.GaugeValue, unixSeconds(v.savedAt.UnixMilli()), s.name)
		}
		if v.lagBytesSet {
			ch <- prometheus.MustNewConstMetric(lagBytesDesc, prometheus.GaugeValue, float64(v.lagBytes), s.name)
		}
		if v.lastEventMs != 0 {
			ch <- prometheus.MustNewConstMetric(lastEventDesc, prometheus.GaugeValue, unixSeconds(v.lastEventMs), s.name)
		}
		stalled := 0.0
		if v.stalled {
			stalled = 1
		}
		ch <- prometheus.MustNewConstMetric(stalledDesc, prometheus.GaugeValue, stalled, s.name)
	}
}

func unixSeconds(ms int64) float64 { return float64(ms) / 1e3 }
