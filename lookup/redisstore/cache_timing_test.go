package redisstore

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// BenchmarkCacheMemory measures the heap the client-side cache takes per
// entry when it holds one million products (ids "P-0".."P-999999"): the
// figure docs/STORE.md quotes for sizing --store-cache-entries.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := newCache(n)
		for j := 0; j < n; j++ {
			c.put("pP-"+strconv.Itoa(j), entry{kind: kindValue, val: money.New(4999, 2)}, 1, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.len() < n*9/10 {
			b.Fatalf("cache kept %d of %d", c.len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(c.len()), "bytes/entry")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/1M")
		runtime.KeepAlive(c)
	}
}

// BenchmarkHit compares a warm Redis store hit with the memory store, on
// the same Call (two lookups: product and location).
func BenchmarkHit(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	srv.MustDo("SET", "pricing:product:P-1", "49.99")
	srv.MustDo("SET", "pricing:market:NY", "1.10")
	cat, mk, err := lookup.Default()
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.Context(), Options{URL: srv.URL(), CacheEntries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rb := s.NewBatcher()
	done := make(chan *lookup.Call, 1)
	warm := &lookup.Call{ProductID: []byte("P-1"), Location: []byte("NY"), Deadline: time.Now().Add(time.Second), Done: func(c *lookup.Call) { done <- c }}
	if !rb.Lookup(warm) {
		rb.Flush()
		<-done
	}
	for _, bc := range []struct {
		name string
		b    lookup.Batcher
	}{{"memory", (&lookup.Memory{Catalog: cat, Markets: mk}).NewBatcher()}, {"redis-cached", rb}} {
		b.Run(bc.name, func(b *testing.B) {
			c := &lookup.Call{ProductID: []byte("P-1"), Location: []byte("NY")}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !bc.b.Lookup(c) {
					b.Fatal("miss")
				}
			}
		})
	}
}
