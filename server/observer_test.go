package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// TestLoopObserver checks the loop's observer cache, including its
// last-labels shortcut, against the metrics set for runs and alternations
// of labels.
func TestLoopObserver(t *testing.T) {
	set := metrics.New(metrics.BuildInfo{})
	lp := &loop{srv: &Server{metrics: set}, obs: make(map[obsKey]prometheus.Observer)}
	for i, k := range []obsKey{
		{"POST", "/api/v1/price", 200},
		{"POST", "/api/v1/price", 200},
		{"POST", "/api/v1/price", 422},
		{"POST", "/api/v1/price", 200},
		{"GET", "/healthz", 200},
		{"GET", "/healthz", 200},
		{"POST", "/api/v1/price", 422},
		{"GET", "/api/v1/price", 405},
	} {
		got := lp.observer(k.method, k.endpoint, k.status)
		if want := set.Request(k.method, k.endpoint, k.status); got != want {
			t.Fatalf("call %d %+v: wrong observer", i, k)
		}
	}
	if len(lp.obs) != 4 {
		t.Errorf("cache holds %d observers, want 4", len(lp.obs))
	}
}
