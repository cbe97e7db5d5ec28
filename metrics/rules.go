package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RulesStats is what the rules report at each scrape: counters are totals
// since start.
type RulesStats struct {
	Version       string  // the ruleset in use; "" when none
	LoadedAt      float64 // Unix seconds when it took effect
	Applied       uint64  // reloads that took effect (the file at start included)
	Refused       uint64  // reloads refused (bad file; the old rules kept serving)
	SharedErrors  uint64  // failed calls to the shared demand counter
	DroppedCounts uint64  // requests not counted: a loop's table was full
	DroppedTables uint64  // loop tables dropped: the merger fell behind
	EvictedKeys   uint64  // demand keys forgotten past the bound
	Keys          int     // product x location keys in the demand snapshot
}

// Rules is the rules' collectors, read from the holder and the demand
// merger at scrape time. It is safe for concurrent use.
type Rules struct {
	stats func() RulesStats
	d     rulesDescs
}

type rulesDescs struct {
	info, loaded, applied, refused, sharedErr, droppedCounts, droppedTables, evicted, keys *prometheus.Desc
}

// NewRules registers the rules' collectors on reg; stats is called once
// per scrape.
func NewRules(reg prometheus.Registerer, stats func() RulesStats) *Rules {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	r := &Rules{stats: stats, d: rulesDescs{
		info:          d("pricing_rules_info", "1, labelled with the version of the ruleset in use (absent without rules).", "version"),
		loaded:        d("pricing_rules_loaded_timestamp_seconds", "When the ruleset in use took effect (Unix seconds)."),
		applied:       d("pricing_rules_reloads_total", "Rules files that took effect, the one read at start included."),
		refused:       d("pricing_rules_reloads_refused_total", "Reloads refused because the new file was bad; the old rules kept serving."),
		sharedErr:     d("pricing_rules_demand_shared_errors_total", "Failed calls to the store's shared demand counters (local counts used meanwhile)."),
		droppedCounts: d("pricing_rules_demand_dropped_requests_total", "Requests not counted for demand: a loop's table of distinct keys was full."),
		droppedTables: d("pricing_rules_demand_dropped_tables_total", "Demand tables of a loop dropped because the merger fell behind."),
		evicted:       d("pricing_rules_demand_evicted_keys_total", "Demand keys forgotten because more were tracked than the bound."),
		keys:          d("pricing_rules_demand_keys", "Product x location keys in the current demand snapshot."),
	}}
	reg.MustRegister(r)
	return r
}

// Describe implements prometheus.Collector.
func (r *Rules) Describe(ch chan<- *prometheus.Desc) {
	d := r.d
	for _, x := range []*prometheus.Desc{d.info, d.loaded, d.applied, d.refused, d.sharedErr, d.droppedCounts, d.droppedTables, d.evicted, d.keys} {
		ch <- x
	}
}

// Collect implements prometheus.Collector.
func (r *Rules) Collect(ch chan<- prometheus.Metric) {
	st := r.stats()
	d := r.d
	if st.Version != "" {
		ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, st.Version)
		ch <- prometheus.MustNewConstMetric(d.loaded, prometheus.GaugeValue, st.LoadedAt)
	}
	ch <- prometheus.MustNewConstMetric(d.applied, prometheus.CounterValue, float64(st.Applied))
	ch <- prometheus.MustNewConstMetric(d.refused, prometheus.CounterValue, float64(st.Refused))
	ch <- prometheus.MustNewConstMetric(d.sharedErr, prometheus.CounterValue, float64(st.SharedErrors))
	ch <- prometheus.MustNewConstMetric(d.droppedCounts, prometheus.CounterValue, float64(st.DroppedCounts))
	ch <- prometheus.MustNewConstMetric(d.droppedTables, prometheus.CounterValue, float64(st.DroppedTables))
	ch <- prometheus.MustNewConstMetric(d.evicted, prometheus.CounterValue, float64(st.EvictedKeys))
	ch <- prometheus.MustNewConstMetric(d.keys, prometheus.GaugeValue, float64(st.Keys))
}
