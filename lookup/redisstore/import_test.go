package redisstore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
)

// TestImportThenServe imports the embedded data and reads it back through
// a Store with the same prefix: the import and the reader share one key
// schema, on a single server and on a cluster.
func TestImportThenServe(t *testing.T) {
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"standalone", func(t *testing.T) string { return redistest.Start(t, redistest.Options{}).URL() }},
		{"cluster", func(t *testing.T) string { return redistest.StartCluster(t, 3).SeedURL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{URL: tc.url(t), Prefix: "imp:"}
			var last atomic.Int64
			res, err := Import(context.Background(), o, cat, mk, ImportOptions{Progress: func(done, total int64) {
				if done > total {
					t.Errorf("progress %d of %d", done, total)
				}
				for {
					if l := last.Load(); done <= l || last.CompareAndSwap(l, done) {
						break
					}
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			want := ImportResult{Written: 10006, Products: 10000, Markets: 6}
			if res != want || last.Load() != 10006 {
				t.Fatalf("result %+v, last progress %d; want %+v and 10006", res, last.Load(), want)
			}
			s := open(t, o)
			b := s.NewBatcher()
			for _, q := range []struct{ product, location, base, mult string }{
				{"P-1", "NY", "50.99", "1.1"},
				{"P-9999", "MIA", "58.99", "0.95"},
				{"P-10", "ZZ", "49.99", "1"},
			} {
				r := ask(t, b, q.product, q.location, 2*time.Second)
				if r.err != nil || r.base != norm(q.base) || r.mult != norm(q.mult) {
					t.Fatalf("%s at %s: %+v, want %s x %s", q.product, q.location, r, q.base, q.mult)
				}
			}
		})
	}
}

// TestImportReplaceKeepsOtherKinds: Replace with only markets removes
// markets not in the data and leaves products and other prefixes alone.
func TestImportReplaceKeepsOtherKinds(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, k := range []string{"pricing:product:OLD", "pricing:market:GONE", "pricing:market:[x]", "other:market:GONE"} {
		srv.MustDo("SET", k, "1")
	}
	mk, err := lookup.LoadMarkets(strings.NewReader("location,multiplier\nNY,1.10\n"), "markets.csv")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(context.Background(), Options{URL: srv.URL()}, nil, mk, ImportOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 1 || res.Removed != 2 {
		t.Fatalf("result %+v, want 1 written and 2 removed", res)
	}
	for k, want := range map[string]string{
		"pricing:product:OLD": "1", "pricing:market:GONE": "(nil)", "pricing:market:[x]": "(nil)",
		"other:market:GONE": "1", "pricing:market:NY": "1.1",
	} {
		if got := srv.MustDo("GET", k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
