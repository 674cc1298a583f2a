package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Cluster holds a cluster member's series: how often the group rebalanced
// (each generation this member saw), how many sources it owns, and its
// generation, labelled with the member id so dashboards can tell members
// apart.
type Cluster struct {
	rebalances prometheus.Counter
	owned      prometheus.Gauge
	generation prometheus.Gauge
	info       *prometheus.GaugeVec
}

// Cluster registers the cluster series for member (cluster.member); call
// it once, in cluster mode only.
func (r *Registry) Cluster(group, member string) *Cluster {
	labels := prometheus.Labels{"group": group, "member": member}
	c := &Cluster{
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "tributary_cluster_rebalances_total",
			Help: "Generations of the cluster group this member took part in (each a rebalance).", ConstLabels: labels}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_cluster_owned_sources",
			Help: "Sources this cluster member owns now (0: a hot standby).", ConstLabels: labels}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tributary_cluster_generation",
			Help: "The cluster group's generation this member is in.", ConstLabels: labels}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tributary_cluster_member_info",
			Help: "1, labelled with the coordinator's id of this member in the current generation.", ConstLabels: labels}, []string{"member_id"}),
	}
	r.prom.MustRegister(c.rebalances, c.owned, c.generation, c.info)
	return c
}

// Rebalanced records a new generation with the sources owned in it.
func (c *Cluster) Rebalanced(generation int, memberID string, owned int) {
	if c == nil {
		return
	}
	c.rebalances.Inc()
	c.owned.Set(float64(owned))
	c.generation.Set(float64(generation))
	c.info.Reset()
	c.info.WithLabelValues(memberID).Set(1)
}

// Owned records how many sources the member owns (after a loss).
func (c *Cluster) Owned(n int) {
	if c != nil {
		c.owned.Set(float64(n))
	}
}
