package demand_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// The Redis store's counter is a SharedCounter, without importing this
// package.
var _ demand.SharedCounter = (*redisstore.DemandCounter)(nil)

// openStore opens a Redis store on a real redis-server for the test.
func openStore(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), redisstore.Options{URL: url, CacheEntries: 10_000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
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
	var mergers [2]*demand.Merger
	var shards [2]*demand.Shard
	for i := range mergers {
		st := openStore(t, srv.URL())
		mergers[i] = demand.NewMerger(demand.MergerConfig{Rules: load, Shared: redisstore.NewDemandCounter(st),
			OnSharedError: func(err error) { t.Errorf("shared counter: %v", err) }})
		shards[i] = mergers[i].NewShard()
	}
	ctx := context.Background()
	bucket := 12 * time.Second / demand.BucketsPerWindow
	if redisstore.MaxDemandBuckets < demand.BucketsPerWindow {
		t.Fatalf("the store reads at most %d buckets, a window has %d", redisstore.MaxDemandBuckets, demand.BucketsPerWindow)
	}
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
		if err := rules.Price(rs, &rules.Input{Product: p, Location: l, Base: money.New(1, 0), Market: money.New(1, 0), Now: t1, Demand: rules.DemandSeen(d)}, &res); err != nil {
			t.Fatal(err)
		}
		if d.Requests != 130 || res.List.String() != "1.05" {
			t.Errorf("replica %d sees %d requests, list price of 1 x 1: %s; want 130 and 1.05", i, d.Requests, res.List)
		}
	}
}
