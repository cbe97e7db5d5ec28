package server

import (
	"bytes"
	"testing"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// TestPoolFullRefusesMetrics: the worker pool, which runs the metrics
// exposition only, has its own bound: with its only worker busy, a
// metrics request is answered 503 + Retry-After at once (pool_full),
// while price requests do not use it.
func TestPoolFullRefusesMetrics(t *testing.T) {
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	mset := metrics.New(metrics.BuildInfo{})
	s, err := New(Config{PoolSize: 1}, Deps{Engine: pricing.NewEngine(&lookup.Memory{Catalog: cat, Markets: mk}, pricing.Config{}), Metrics: mset})
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release); s.pool.Release(); s.cancel() })
	if err := s.pool.Submit(func() { close(started); <-release }); err != nil {
		t.Fatal(err)
	}
	<-started
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	fc.in = []byte("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" + benchPriceRequest)
	h.OnTraffic(fc)
	want := []string{"HTTP/1.1 503 Service Unavailable\r\n", "Retry-After: 1\r\n",
		`{"detail":"server overloaded: try again shortly"}`, "HTTP/1.1 200 OK\r\n", `"final_price":55.37`}
	for _, w := range want {
		if !bytes.Contains(fc.out, []byte(w)) {
			t.Errorf("replies lack %q: %s", w, fc.out)
		}
	}
	if bytes.Contains(fc.out, []byte("Connection: close")) {
		t.Errorf("the refused metrics request closed its connection: %s", fc.out)
	}
}
