package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// TestDemandCounterAddTotals: two replicas' counts of the same buckets
// are summed, buckets outside the range are not, the hashes expire after
// two windows, and counting invalidates nobody's cache.
func TestDemandCounterAddTotals(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := open(t, Options{URL: srv.URL()}), open(t, Options{URL: srv.URL()})
	da, db := NewDemandCounter(a), NewDemandCounter(b)
	ctx := context.Background()
	const w = time.Minute
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(da.Add(ctx, w, 100, map[string]int64{"k1": 3, "k2": 1}))
	must(db.Add(ctx, w, 100, map[string]int64{"k1": 4}))
	must(db.Add(ctx, w, 101, map[string]int64{"k1": 10}))
	must(da.Add(ctx, w, 99, map[string]int64{"k1": 1000}))    // before the range
	must(da.Add(ctx, 2*w, 100, map[string]int64{"k1": 1000})) // another window length
	must(da.Add(ctx, w, 100, nil))                            // nothing to add
	got := map[string]int64{}
	must(da.Totals(ctx, w, 100, 101, func(k string, n int64) { got[k] += n }))
	if len(got) != 2 || got["k1"] != 17 || got["k2"] != 1 {
		t.Errorf("Totals = %v, want k1:17 k2:1", got)
	}
	key := da.bucketKey(w, 100)
	ttl, err := strconv.Atoi(srv.MustDo("PTTL", key))
	if err != nil || ttl <= 0 || ttl > int(2*w/time.Millisecond) {
		t.Errorf("PTTL %s = %d (%v), want in (0, %d]", key, ttl, err, 2*w/time.Millisecond)
	}
	if err := da.Totals(ctx, w, 1, MaxDemandBuckets+1, func(string, int64) {}); err == nil {
		t.Errorf("Totals of %d buckets: no error, want the bound %d", MaxDemandBuckets+1, MaxDemandBuckets)
	}
	if st := a.Stats(); st.Invalidations != 0 {
		t.Errorf("counting invalidated %d cache entries", st.Invalidations)
	}
}

// TestDemandCounterPrefix: the counters never live under the tracked
// prefix, even when the prefix looks like theirs.
func TestDemandCounterPrefix(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, prefix := range []string{"pricing:", "demand:", "d", "demand:x:"} {
		s := open(t, Options{URL: srv.URL(), Prefix: prefix})
		k := NewDemandCounter(s).bucketKey(time.Minute, 1)
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			t.Errorf("prefix %q: counter key %q is under it", prefix, k)
		}
	}
}
