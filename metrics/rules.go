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
	*statsCollector[RulesStats]
}

// NewRules registers the rules' collectors on reg; stats is called once
// per scrape.
func NewRules(reg prometheus.Registerer, stats func() RulesStats) *Rules {
	type S = RulesStats
	inUse := func(st *S) bool { return st.Version != "" }
	r := &Rules{&statsCollector[S]{stats: stats, rows: []statRow[S]{
		{
			desc:    prometheus.NewDesc("pricing_rules_info", "1, labelled with the version of the ruleset in use (absent without rules).", []string{"version"}, nil),
			typ:     prometheus.GaugeValue,
			value:   func(*S) float64 { return 1 },
			labels:  func(st *S) []string { return []string{st.Version} },
			present: inUse,
		},
		{
			desc:    prometheus.NewDesc("pricing_rules_loaded_timestamp_seconds", "When the ruleset in use took effect (Unix seconds).", nil, nil),
			typ:     prometheus.GaugeValue,
			value:   func(st *S) float64 { return st.LoadedAt },
			present: inUse,
		},
		counter("pricing_rules_reloads_total", "Rules files that took effect, the one read at start included.",
			func(st *S) float64 { return float64(st.Applied) }),
		counter("pricing_rules_reloads_refused_total", "Reloads refused because the new file was bad; the old rules kept serving.",
			func(st *S) float64 { return float64(st.Refused) }),
		counter("pricing_rules_demand_shared_errors_total", "Failed calls to the store's shared demand counters (the fleet's last counts and multipliers used meanwhile).",
			func(st *S) float64 { return float64(st.SharedErrors) }),
		counter("pricing_rules_demand_dropped_requests_total", "Requests not counted for demand: a loop's table of distinct keys was full.",
			func(st *S) float64 { return float64(st.DroppedCounts) }),
		counter("pricing_rules_demand_dropped_tables_total", "Demand tables of a loop dropped because the merger fell behind.",
			func(st *S) float64 { return float64(st.DroppedTables) }),
		counter("pricing_rules_demand_evicted_keys_total", "Demand keys forgotten because more were tracked than the bound.",
			func(st *S) float64 { return float64(st.EvictedKeys) }),
		gauge("pricing_rules_demand_keys", "Product x location keys in the current demand snapshot.",
			func(st *S) float64 { return float64(st.Keys) }),
	}}}
	reg.MustRegister(r)
	return r
}
