package demand_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
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

// TestDemandSharedSmoothingRedis: replicas on one real Redis hold the
// same smoothed multiplier; one started afresh holds it from its first
// merge; with Redis gone they hold the fleet's last figures and step
// alike, and once Redis is back (empty) the first proposal settles the
// period again for all.
func TestDemandSharedSmoothingRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs, err := rules.Parse("smooth.yaml", []byte(`version: "s2"
demand:
  window: 12s
  shared: true
  max_step: 0.05
  tiers:
    - {above: 100, multiplier: 1.05}
    - {above: 200, multiplier: 1.15}
`))
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool // shared errors are expected only while Redis is down
	cfg := func() demand.MergerConfig {
		return demand.MergerConfig{Rules: func() *rules.Ruleset { return rs }, Shared: redisstore.NewDemandCounter(openStore(t, srv.URL())),
			SharedTimeout: 2 * time.Second,
			OnSharedError: func(err error) {
				if !down.Load() {
					t.Errorf("shared counter: %v", err)
				}
			}}
	}
	type replica struct {
		m *demand.Merger
		s *demand.Shard
	}
	ctx := context.Background()
	start := func(at time.Time) *replica {
		r := &replica{m: demand.NewMerger(cfg())}
		r.s = r.m.NewShard()
		r.m.Merge(ctx, at)
		return r
	}
	t0 := time.Unix(1_800_000_000, 0).Truncate(12 * time.Second)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	p, l := []byte("P-1"), []byte("NY")
	value := func(r *replica) string { return r.m.Snapshot().Lookup(p, l).Value.String() }
	r1, r2 := start(at(0)), start(at(0))
	tick := func(s float64, rs ...*replica) {
		for _, r := range rs {
			r.s.Flush(at(s))
			r.m.Merge(ctx, at(s))
		}
	}
	// Three windows of 120 requests a replica (240: the 1.15 tier); a
	// third replica starts a second after the period at 24 s.
	var r3 *replica
	for b := 0; b < 36; b++ {
		for _, r := range []*replica{r1, r2} {
			for range 10 {
				r.s.Record(p, l, at(float64(b)+0.1))
			}
		}
		tick(float64(b)+0.5, r1, r2)
		if r3 != nil {
			tick(float64(b)+0.5, r3)
		}
		if b == 24 { // the period at 24 s: 1.05 -> 1.1
			if v1, v2 := value(r1), value(r2); v1 != "1.1" || v2 != "1.1" {
				t.Fatalf("after two windows: r1 %s r2 %s, want 1.1 both", v1, v2)
			}
			r3 = start(at(25))
			if v := value(r3); v != "1.1" {
				t.Errorf("a replica started afresh: %s, want its peers' 1.1", v)
			}
		}
	}

	// Redis goes away: the fleet's last totals (240) are held, so at the
	// period at 36 s every replica steps alike, to the tier's 1.15 (one
	// replica's own counts, 120, would not meet it).
	down.Store(true)
	srv.Kill()
	tick(36.5, r1, r2, r3)
	for i, r := range []*replica{r1, r2, r3} {
		if v := value(r); v != "1.15" {
			t.Errorf("Redis down: replica %d at %s, want 1.15", i+1, v)
		}
	}
	// Back, empty: the period's proposals are sent again; the first
	// settles it for all (the same figure here), and a replica started
	// now reads it.
	srv.Restart()
	tick(37, r1, r2, r3)
	down.Store(false)
	r4 := start(at(37.5))
	if v := value(r4); v != "1.15" {
		t.Errorf("after Redis came back: a new replica at %s, want 1.15", v)
	}
}
