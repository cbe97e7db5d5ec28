package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StoreBuckets are the classic buckets of pricing_store_round_trip_seconds:
// a loopback round trip is ~50-200 us, a remote one a few ms.
var StoreBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// StoreStats is what a networked store reports at each scrape: counters
// are totals since start.
type StoreStats struct {
	Up            bool
	Live          bool // the store replied within --store-live-within: cached values answer live
	BreakerOpen   bool
	Hits          uint64 // lookups answered fresh from the client-side cache
	Misses        uint64 // keys read from the store
	Invalidations uint64 // keys invalidated by the store's pushes
	Flushes       uint64 // whole-cache invalidations (lost connections)
	Stale         uint64 // lookups answered from last known values
	InvalidValues uint64 // reads that found a value that is not a valid decimal in range
	Entries       int    // entries held in the client-side cache
	AbsentEntries int    // of which absent keys (bounded apart)
	LoopConns     int    // connections held by event loops
	LoopTrips     uint64 // round trips on those connections
}

// Store is the store's collectors: the counters are read from the store
// at scrape time (the hot path keeps its own sharded counters), the round
// trip histogram is observed directly. It is safe for concurrent use.
type Store struct {
	*statsCollector[StoreStats]
	roundTrip prometheus.Histogram
}

// NewStore registers the store's collectors on reg; stats is called once
// per scrape.
func NewStore(reg prometheus.Registerer, stats func() StoreStats) *Store {
	type S = StoreStats
	s := &Store{
		statsCollector: &statsCollector[S]{stats: stats, rows: []statRow[S]{
			gauge("pricing_store_up", "1 when the last probe of the store (PING) succeeded, else 0.",
				func(st *S) float64 { return bit(st.Up) }),
			gauge("pricing_store_live", "1 while the store replied (to a read or a PING) within --store-live-within, so that cached values answer live; 0 means they answer stale.",
				func(st *S) float64 { return bit(st.Live) }),
			gauge("pricing_store_breaker_open", "1 while the store's breaker is open (lookups answered without asking the store), else 0.",
				func(st *S) float64 { return bit(st.BreakerOpen) }),
			counter("pricing_store_cache_hits_total", "Lookups answered fresh from the client-side cache.",
				func(st *S) float64 { return float64(st.Hits) }),
			counter("pricing_store_cache_misses_total", "Keys read from the store because the client-side cache had no fresh value.",
				func(st *S) float64 { return float64(st.Misses) }),
			counter("pricing_store_cache_invalidations_total", "Keys invalidated by the store's tracking pushes (changes written by any client).",
				func(st *S) float64 { return float64(st.Invalidations) }),
			counter("pricing_store_cache_flushes_total", "Whole-cache invalidations: a lost connection or a FLUSHALL.",
				func(st *S) float64 { return float64(st.Flushes) }),
			counter("pricing_store_stale_answers_total", "Lookups answered from last known values because the store could not answer.",
				func(st *S) float64 { return float64(st.Stale) }),
			counter("pricing_store_invalid_values_total", "Reads that found a value that is not a valid decimal in range (answered 502).",
				func(st *S) float64 { return float64(st.InvalidValues) }),
			gauge("pricing_store_cache_entries", "Entries held in the client-side cache (bounded by --store-cache-entries).",
				func(st *S) float64 { return float64(st.Entries) }),
			gauge("pricing_store_cache_absent_entries", "Of the cache's entries, those of keys the store does not hold (unknown ids), bounded apart at 1/8 of --store-cache-entries.",
				func(st *S) float64 { return float64(st.AbsentEntries) }),
			gauge("pricing_store_loop_connections", "Connections to the store held by the event loops, which read misses without a hand-off between goroutines (0 with --store-shared-only, TLS, Sentinel or a cluster).",
				func(st *S) float64 { return float64(st.LoopConns) }),
			counter("pricing_store_loop_round_trips_total", "Round trips made on the event loops' own connections (the rest of pricing_store_round_trip_seconds went through the shared connections).",
				func(st *S) float64 { return float64(st.LoopTrips) }),
		}},
		roundTrip: prometheus.NewHistogram(histogramOpts("pricing_store_round_trip_seconds",
			"Duration of one pipelined round trip to the store (all the misses of one batch).",
			StoreBuckets)),
	}
	reg.MustRegister(s, s.roundTrip)
	return s
}

// ObserveRoundTrip records one round trip to the store.
func (s *Store) ObserveRoundTrip(d time.Duration) { s.roundTrip.Observe(d.Seconds()) }
