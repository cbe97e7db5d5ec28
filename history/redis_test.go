package history_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
)

// The Redis store's history is a Shared, without importing this package.
var _ history.Shared = (*redisstore.HistoryStore)(nil)

func openStore(t *testing.T, url string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), redisstore.Options{URL: url, CacheEntries: 1000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustDec(t *testing.T, s string) money.Decimal {
	t.Helper()
	d, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSharedRedis: two mergers (two replicas) on one real Redis, and on a
// Redis Cluster: each sees the lows the other recorded, lows only
// decrease, a replica started later reads the fleet's history in full,
// and an import is seen by running replicas.
func TestSharedRedis(t *testing.T) {
	for _, mode := range []string{"standalone", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			var url string
			if mode == "cluster" {
				url = redistest.StartCluster(t, 3).URL()
			} else {
				url = redistest.Start(t, redistest.Options{}).URL()
			}
			testShared(t, url)
		})
	}
}

func testShared(t *testing.T, url string) {
	ctx := context.Background()
	newReplica := func() *history.Merger {
		return history.NewMerger(history.MergerConfig{Shared: redisstore.NewHistoryStore(openStore(t, url)),
			OnSharedError: func(err error) { t.Errorf("shared history: %v", err) }})
	}
	a, b := newReplica(), newReplica()
	now := time.Now().UTC()
	today := history.DayOf(now)
	yesterday := now.Add(-24 * time.Hour)
	p, l := []byte("P-1"), []byte("NY")
	a.Record(p, l, yesterday, mustDec(t, "50"), true)
	a.Record(p, l, now, mustDec(t, "45.5"), false) // a reduction today
	b.Record(p, l, now, mustDec(t, "48"), true)
	b.Record(p, l, now, mustDec(t, "49"), true)
	for _, m := range []*history.Merger{a, b, a} {
		m.Merge(ctx, now)
	}
	for i, m := range []*history.Merger{a, b} {
		got := m.Lookup("P-1", "NY", today)
		if got.Price.String() != "45.5" || got.Plain.String() != "48" {
			t.Errorf("replica %d: today %s %s, want 45.5 48", i, got.Price, got.Plain)
		}
		if got := m.Lookup("P-1", "NY", today-1); got.Price.String() != "50" {
			t.Errorf("replica %d: yesterday %s, want 50", i, got.Price)
		}
	}
	// A higher price changes nothing.
	b.Record(p, l, now, mustDec(t, "60"), true)
	b.Merge(ctx, now)
	// A replica that starts now reads the fleet's history.
	c := newReplica()
	c.Merge(ctx, now)
	if got := c.Lookup("P-1", "NY", today); got.Price.String() != "45.5" || got.Plain.String() != "48" {
		t.Errorf("new replica: today %s %s, want 45.5 48", got.Price, got.Plain)
	}
	if st := c.Stats(); !st.Loaded || st.Keys != 1 {
		t.Errorf("new replica stats %+v", st)
	}
	// An import (a backfill) lowers what the replicas hold.
	hist, err := lookup.LoadHistory(strings.NewReader(lookup.HistoryHeader+"\nP-1,NY,"+(today-3).String()+",30\nP-1,NY,"+(today-1).String()+",55\nP-2,LA,"+(today-2).String()+",12.25\n"), "backfill.csv", now)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := redisstore.ImportHistory(ctx, redisstore.Options{URL: url}, hist); err != nil || n != 3 {
		t.Fatalf("ImportHistory = %d, %v", n, err)
	}
	a.Merge(ctx, now)
	if got := a.Lookup("P-1", "NY", today-3); got.Price.String() != "30" || got.Plain.String() != "30" {
		t.Errorf("after the import: %s %s three days ago, want 30 30", got.Price, got.Plain)
	}
	if got := a.Lookup("P-1", "NY", today-1); got.Price.String() != "50" {
		t.Errorf("after the import: %s yesterday, want the lower 50", got.Price)
	}
	if got := a.Lookup("P-2", "LA", today-2); got.Price.String() != "12.25" {
		t.Errorf("after the import: P-2 x LA %s, want 12.25", got.Price)
	}
	pr := a.Prior(p, l, now, 30*24*time.Hour)
	if !pr.Found || pr.Price.String() != "30" || !pr.Short || pr.Since != today-3 {
		t.Errorf("prior %+v, want 30 since three days ago", pr)
	}
}

// TestHistoryKey: the store's import and this package spell a key alike.
func TestHistoryKey(t *testing.T) {
	for _, pl := range [][2]string{{"P-1", "NY"}, {"P-10", ""}, {strings.Repeat("p", 64), strings.Repeat("l", 64)}} {
		k, ok := history.Key(pl[0], pl[1])
		if !ok || k != redisstore.HistoryKey(pl[0], pl[1]) {
			t.Errorf("%q x %q: history.Key %q, redisstore.HistoryKey %q", pl[0], pl[1], k, redisstore.HistoryKey(pl[0], pl[1]))
		}
	}
}
