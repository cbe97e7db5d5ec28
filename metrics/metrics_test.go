package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
