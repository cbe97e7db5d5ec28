package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
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
	must(da.Add(ctx, w, 100, []rules.KeyCount{{Key: "k1", Count: 3}, {Key: "k2", Count: 1}}))
	must(db.Add(ctx, w, 100, []rules.KeyCount{{Key: "k1", Count: 4}}))
	must(db.Add(ctx, w, 101, []rules.KeyCount{{Key: "k1", Count: 10}}))
	must(da.Add(ctx, w, 99, []rules.KeyCount{{Key: "k1", Count: 1000}}))    // before the range
	must(da.Add(ctx, 2*w, 100, []rules.KeyCount{{Key: "k1", Count: 1000}})) // another window length
	must(da.Add(ctx, w, 100, nil))                                          // nothing to add
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

// TestDemandShared: two mergers (two replicas) sharing counts through
// Redis each see the sum, and the sum meets a tier neither meets alone.
func TestDemandShared(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs, err := rules.Parse("shared.yaml", []byte(`version: "s1"
demand:
  window: 12s
  shared: true
  tiers:
    - {above: 100, multiplier: 1.05}
`))
	if err != nil {
		t.Fatal(err)
	}
	load := func() *rules.Ruleset { return rs }
	var mergers [2]*rules.Merger
	var shards [2]*rules.Shard
	for i := range mergers {
		st := open(t, Options{URL: srv.URL()})
		mergers[i] = rules.NewMerger(rules.MergerConfig{Rules: load, Shared: NewDemandCounter(st),
			OnSharedError: func(err error) { t.Errorf("shared counter: %v", err) }})
		shards[i] = mergers[i].NewShard()
	}
	ctx := context.Background()
	bucket := time.Second // 12s / 12
	t0 := time.Unix(1_800_000_000, 0)
	for _, m := range mergers {
		m.Merge(ctx, t0)
	}
	p, l := []byte("P-1"), []byte("NY")
	for i := 0; i < 60; i++ {
		shards[0].Record(p, l, t0)
	}
	for i := 0; i < 70; i++ {
		shards[1].Record(p, l, t0)
	}
	t1 := t0.Add(bucket)
	for i, m := range mergers {
		shards[i].Flush(t1)
		m.Merge(ctx, t1)
	}
	mergers[0].Merge(ctx, t1.Add(bucket/2)) // A again, after B's Add
	for i, m := range mergers {
		d := m.Snapshot().Lookup(p, l)
		var res rules.Result
		if err := rules.Price(rs, &rules.Input{Product: p, Location: l, Base: money.New(1, 0), Market: money.New(1, 0), Now: t1, Demand: d}, &res); err != nil {
			t.Fatal(err)
		}
		if d.Requests != 130 || res.List.String() != "1.05" {
			t.Errorf("replica %d sees %d requests, list price of 1 x 1: %s; want 130 and 1.05", i, d.Requests, res.List)
		}
	}
}
