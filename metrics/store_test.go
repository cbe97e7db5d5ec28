package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStoreCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := StoreStats{Up: true, Hits: 7, Misses: 3, Invalidations: 2, Stale: 1, InvalidValues: 4, Entries: 5}
	s := NewStore(reg, func() StoreStats { return st })
	s.ObserveRoundTrip(300 * time.Microsecond)
	want := `
# HELP pricing_store_cache_hits_total Lookups answered fresh from the client-side cache.
# TYPE pricing_store_cache_hits_total counter
pricing_store_cache_hits_total 7
# HELP pricing_store_invalid_values_total Reads that found a value that is not a valid decimal in range (answered 502).
# TYPE pricing_store_invalid_values_total counter
pricing_store_invalid_values_total 4
# HELP pricing_store_up 1 when the last probe of the store (PING) succeeded, else 0.
# TYPE pricing_store_up gauge
pricing_store_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"pricing_store_cache_hits_total", "pricing_store_invalid_values_total", "pricing_store_up"); err != nil {
		t.Fatal(err)
	}
	st.Up, st.BreakerOpen = false, true
	down := `
# HELP pricing_store_breaker_open 1 while the store's breaker is open (lookups answered without asking the store), else 0.
# TYPE pricing_store_breaker_open gauge
pricing_store_breaker_open 1
# HELP pricing_store_up 1 when the last probe of the store (PING) succeeded, else 0.
# TYPE pricing_store_up gauge
pricing_store_up 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(down), "pricing_store_up", "pricing_store_breaker_open"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "pricing_store_round_trip_seconds")
	if err != nil || n != 1 {
		t.Fatalf("round trip histogram: %d series, %v", n, err)
	}
	lint, err := testutil.GatherAndLint(reg)
	if err != nil || len(lint) != 0 {
		t.Fatalf("lint: %v %v", lint, err)
	}
}
