package metrics

import (
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestRequestObserverCachedAndLabelled(t *testing.T) {
	s := New(BuildInfo{Version: "v1", Revision: "abc"})
	a := s.Request("POST", "/api/v1/price", 200)
	b := s.Request("POST", "/api/v1/price", 200)
	if a != b {
		t.Fatal("observer for the same labels was not cached")
	}
	a.Observe(0.01)
	b.Observe(0.2)
	s.Request("GET", "unknown", 404).Observe(0.001)
	if n := testutil.CollectAndCount(s.duration); n != 2 {
		t.Fatalf("duration series = %d, want 2", n)
	}
}

// TestRequestLoopObservers checks a loop's observer cache, including its
// last-labels shortcut, for runs and alternations of labels, and that the
// observers of two loops and the shared one count into one series.
func TestRequestLoopObservers(t *testing.T) {
	s := New(BuildInfo{})
	a, b := s.NewRequestLoop(), s.NewRequestLoop()
	type key struct {
		method, endpoint string
		code             int
	}
	seen := map[key]*LoopObserver{}
	for i, k := range []key{
		{"POST", "/api/v1/price", 200},
		{"POST", "/api/v1/price", 200},
		{"POST", "/api/v1/price", 422},
		{"POST", "/api/v1/price", 200},
		{"GET", "/healthz", 200},
		{"GET", "/healthz", 200},
		{"POST", "/api/v1/price", 422},
		{"GET", "/api/v1/price", 405},
	} {
		o := a.Observer(k.method, k.endpoint, k.code)
		if prev, ok := seen[k]; ok && prev != o {
			t.Fatalf("call %d %+v: a new observer for labels seen before", i, k)
		}
		for k2, o2 := range seen {
			if k2 != k && o2 == o {
				t.Fatalf("call %d %+v: the observer of %+v", i, k, k2)
			}
		}
		seen[k] = o
		o.Observe(0.001)
	}
	if len(a.obs) != 4 {
		t.Errorf("cache holds %d observers, want 4", len(a.obs))
	}
	b.Observer("POST", "/api/v1/price", 200).Observe(0.2)
	s.Request("POST", "/api/v1/price", 200).Observe(0.3)
	var m dto.Metric
	if err := s.Request("POST", "/api/v1/price", 200).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if c, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); c != 5 || math.Abs(sum-0.503) > 1e-9 {
		t.Errorf("series count %d sum %v, want 5 and 0.503", c, sum)
	}
}

func TestExpositionHasSLOBucketAndAllFamilies(t *testing.T) {
	s := New(BuildInfo{})
	s.Request("POST", "/api/v1/price", 200).Observe(0.12)
	s.ObserveLookup("catalog", OutcomeOK, 20*time.Millisecond)
	s.Rejected(RejectPoolFull).Inc()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`http_request_duration_seconds_bucket{code="200",endpoint="/api/v1/price",method="POST",le="0.15"} 1`,
		`http_request_duration_seconds_bucket{code="200",endpoint="/api/v1/price",method="POST",le="0.1"} 0`,
		`pricing_lookup_duration_seconds_count{lookup="catalog",outcome="ok"} 1`,
		`pricing_requests_rejected_total{reason="pool_full"} 1`,
		`pricing_requests_rejected_total{reason="timeout"} 0`,
		`pricing_build_info{goversion="`,
		`pricing_connections_open 0`,
		`pricing_requests_in_flight 0`,
		`pricing_lookups_waiting 0`,
		`pricing_requests_rejected_total{reason="waiting_limit"} 0`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func BenchmarkRequestObserve(b *testing.B) {
	s := New(BuildInfo{})
	b.ReportAllocs()
	for b.Loop() {
		s.Request("POST", "/api/v1/price", 200).Observe(0.003)
	}
}
