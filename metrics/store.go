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
	BreakerOpen   bool
	Hits          uint64 // lookups answered fresh from the client-side cache
	Misses        uint64 // keys read from the store
	Invalidations uint64 // keys invalidated by the store's pushes
	Flushes       uint64 // whole-cache invalidations (lost connections)
	Stale         uint64 // lookups answered from last known values
	InvalidValues uint64 // reads that found a value that is not a valid decimal in range
	Entries       int    // entries held in the client-side cache
}

// Store is the store's collectors: the counters are read from the store
// at scrape time (the hot path keeps its own sharded counters), the round
// trip histogram is observed directly. It is safe for concurrent use.
type Store struct {
	stats     func() StoreStats
	roundTrip prometheus.Histogram
	descs     storeDescs
}

type storeDescs struct {
	up, breaker, hits, misses, invalidations, flushes, stale, invalid, entries *prometheus.Desc
}

// NewStore registers the store's collectors on reg; stats is called once
// per scrape.
func NewStore(reg prometheus.Registerer, stats func() StoreStats) *Store {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	s := &Store{
		stats: stats,
		roundTrip: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                            "pricing_store_round_trip_seconds",
			Help:                            "Duration of one pipelined round trip to the store (all the misses of one batch).",
			Buckets:                         StoreBuckets,
			NativeHistogramBucketFactor:     NativeBucketFactor,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}),
		descs: storeDescs{
			up:            d("pricing_store_up", "1 when the last probe of the store (PING) succeeded, else 0."),
			breaker:       d("pricing_store_breaker_open", "1 while the store's breaker is open (lookups answered without asking the store), else 0."),
			hits:          d("pricing_store_cache_hits_total", "Lookups answered fresh from the client-side cache."),
			misses:        d("pricing_store_cache_misses_total", "Keys read from the store because the client-side cache had no fresh value."),
			invalidations: d("pricing_store_cache_invalidations_total", "Keys invalidated by the store's tracking pushes (changes written by any client)."),
			flushes:       d("pricing_store_cache_flushes_total", "Whole-cache invalidations: a lost connection or a FLUSHALL."),
			stale:         d("pricing_store_stale_answers_total", "Lookups answered from last known values because the store could not answer."),
			invalid:       d("pricing_store_invalid_values_total", "Reads that found a value that is not a valid decimal in range (answered 502)."),
			entries:       d("pricing_store_cache_entries", "Entries held in the client-side cache (bounded by --store-cache-entries)."),
		},
	}
	reg.MustRegister(s, s.roundTrip)
	return s
}

// ObserveRoundTrip records one round trip to the store.
func (s *Store) ObserveRoundTrip(d time.Duration) { s.roundTrip.Observe(d.Seconds()) }

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	d := s.descs
	for _, x := range []*prometheus.Desc{d.up, d.breaker, d.hits, d.misses, d.invalidations, d.flushes, d.stale, d.invalid, d.entries} {
		ch <- x
	}
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	st := s.stats()
	d := s.descs
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, b(st.Up))
	ch <- prometheus.MustNewConstMetric(d.breaker, prometheus.GaugeValue, b(st.BreakerOpen))
	ch <- prometheus.MustNewConstMetric(d.hits, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(d.misses, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(d.invalidations, prometheus.CounterValue, float64(st.Invalidations))
	ch <- prometheus.MustNewConstMetric(d.flushes, prometheus.CounterValue, float64(st.Flushes))
	ch <- prometheus.MustNewConstMetric(d.stale, prometheus.CounterValue, float64(st.Stale))
	ch <- prometheus.MustNewConstMetric(d.invalid, prometheus.CounterValue, float64(st.InvalidValues))
	ch <- prometheus.MustNewConstMetric(d.entries, prometheus.GaugeValue, float64(st.Entries))
}
