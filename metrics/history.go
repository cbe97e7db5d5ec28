package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// HistoryStats is what the price history reports at each scrape:
// counters are totals since start.
type HistoryStats struct {
	Keys           int    // product x location pairs held
	DroppedRecords uint64 // prices not recorded: a loop's tables were all waiting for the merger
	SharedErrors   uint64 // failed calls to the store's shared history
	Loaded         bool   // every kept day was read from the shared store (true without one)
	RepriceDropped uint64 // admin writes not re-priced: their queue was full
}

// History is the price history's collectors, read from its merger at
// scrape time. It is safe for concurrent use.
type History struct {
	*statsCollector[HistoryStats]
}

// NewHistory registers the price history's collectors on reg; stats is
// called once per scrape.
func NewHistory(reg prometheus.Registerer, stats func() HistoryStats) *History {
	type S = HistoryStats
	h := &History{&statsCollector[S]{stats: stats, rows: []statRow[S]{
		gauge("pricing_history_keys", "Product x location pairs in the price history held by this replica.",
			func(st *S) float64 { return float64(st.Keys) }),
		gauge("pricing_history_loaded", "1 once this replica has read every kept day of the shared price history (1 without a shared store); 0 until then: prior prices come from its own records only.",
			func(st *S) float64 {
				if st.Loaded {
					return 1
				}
				return 0
			}),
		counter("pricing_history_dropped_records_total", "Prices not recorded in the history: a loop's tables were all waiting for the merger.",
			func(st *S) float64 { return float64(st.DroppedRecords) }),
		counter("pricing_history_shared_errors_total", "Failed calls to the store's shared price history (values not sent are kept and sent later).",
			func(st *S) float64 { return float64(st.SharedErrors) }),
		counter("pricing_history_reprice_dropped_total", "Admin writes whose new prices were not recorded at once: the re-pricing queue was full.",
			func(st *S) float64 { return float64(st.RepriceDropped) }),
	}}}
	reg.MustRegister(h)
	return h
}
