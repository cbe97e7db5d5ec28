package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestPipelinedRepliesObserved checks that every reply of one pipelined
// batch is observed once, under its own labels, when the batch's replies
// go out: each OnTraffic records its replies with one clock read.
func TestPipelinedRepliesObserved(t *testing.T) {
	s := newBenchServer(t)
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	body := `{"product_id":"P-NONE","user_location":"NY","is_prime_member":true}`
	notFound := fmt.Sprintf("POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	wrongMethod := "GET /api/v1/price HTTP/1.1\r\nHost: x\r\n\r\n"
	fc.in = []byte(strings.Repeat(benchPriceRequest, 3) + notFound + wrongMethod + benchPriceRequest)
	h.OnTraffic(fc)
	if n := bytes.Count(fc.out, []byte("HTTP/1.1 ")); n != 6 {
		t.Fatalf("%d replies, want 6:\n%s", n, fc.out)
	}
	for _, tt := range []struct {
		method, endpoint string
		code             int
		want             uint64
	}{
		{"POST", "/api/v1/price", 200, 4},
		{"POST", "/api/v1/price", 404, 1},
		{"GET", "/api/v1/price", 405, 1},
	} {
		var m dto.Metric
		if err := s.metrics.Request(tt.method, tt.endpoint, tt.code).(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram().GetSampleCount(); got != tt.want {
			t.Errorf("%s %s %d: %d observations, want %d", tt.method, tt.endpoint, tt.code, got, tt.want)
		}
	}
}
