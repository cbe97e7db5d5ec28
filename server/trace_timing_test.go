package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
	"github.com/pricing-engine/pricing-engine/trace"
)

// newTraceServer is newBenchServer with tracing and an access log.
func newTraceServer(tb testing.TB, tr *trace.Tracer, al *trace.AccessLog) *Server {
	tb.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		tb.Fatal(err)
	}
	src := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{})
	s, err := New(Config{}, Deps{Engine: pricing.NewEngine(src, pricing.Config{}), Metrics: metrics.New(metrics.BuildInfo{}),
		Tracer: tr, AccessLog: al})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.pool.Release(); s.cancel() })
	return s
}

// sinkCollector accepts OTLP exports and discards them.
func sinkCollector(tb testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// benchWarmup is how many requests BenchmarkTracing serves before timing.
const benchWarmup = 200_000

// flushTracer waits until the spans of the warm-up are exported.
func flushTracer(tb testing.TB, tr *trace.Tracer) {
	if !tr.Enabled() {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for s := tr.Stats(); s.Exported+s.Dropped+s.Failed < s.Sampled; s = tr.Stats() {
		if time.Now().After(deadline) {
			tb.Fatalf("warm-up spans not exported: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processCPU returns the user and system CPU time of the process, in
// nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func newTracer(tb testing.TB, endpoint string, ratio float64) *trace.Tracer {
	tb.Helper()
	tr, err := trace.New(trace.Config{Endpoint: endpoint, Ratio: ratio})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = tr.Close(tb.Context()) })
	return tr
}

// BenchmarkTracing is BenchmarkRequestPath/keepalive with tracing off
// (compiled in, no endpoint), sampling 1 % and 100 % of requests to a
// collector that discards them, and the access log writing every request
// to a file.
func BenchmarkTracing(b *testing.B) {
	cases := []struct {
		name   string
		ratio  float64
		spans  bool
		access bool
	}{
		{"off", 0, false, false},
		{"sample-1pct", 0.01, true, false},
		{"sample-100pct", 1, true, false},
		{"access-log", 0, false, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			endpoint := ""
			if bc.spans {
				endpoint = sinkCollector(b)
			}
			tr := newTracer(b, endpoint, bc.ratio)
			var al *trace.AccessLog
			if bc.access {
				var err error
				al, err = trace.OpenAccessLog(trace.AccessLogConfig{Dest: filepath.Join(b.TempDir(), "access.log"), Sample: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = al.Close() })
			}
			h := &handler{srv: newTraceServer(b, tr, al)}
			fc := &fakeConn{}
			h.OnOpen(fc)
			req := []byte(benchPriceRequest)
			// Warm up to the steady state: the span records in reuse,
			// the exporter's buffers grown, its connection open.
			for range benchWarmup {
				fc.in = req
				fc.out = fc.out[:0]
				h.OnTraffic(fc)
			}
			flushTracer(b, tr)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				fc.in = req
				fc.out = fc.out[:0]
				if h.OnTraffic(fc) != gnet.None {
					b.Fatal("connection closed")
				}
			}
			b.StopTimer()
			// Process CPU time per request: what the loop does plus
			// what the exporter, the collector and the garbage
			// collector do beside it on other cores, which ns/op
			// does not see.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			if !bytes.Contains(fc.out, []byte("X-Request-Id: ")) {
				b.Fatalf("no X-Request-Id: %q", fc.out)
			}
		})
	}
}

// TestTracingRequestPathAllocs: with an endpoint but the request not
// sampled, with tracing off, and with the access log writing every
// request (with its source), a request allocates nothing; every reply
// carries a request id, the incoming trace id when there is one.
func TestTracingRequestPathAllocs(t *testing.T) {
	withParent := "POST /api/v1/price HTTP/1.1\r\nHost: x\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"Content-Type: application/json\r\nContent-Length: 44\r\n\r\n" + `{"product_id":"P-1","user_location":"NY"}` + "   "
	al, err := trace.OpenAccessLog(trace.AccessLogConfig{Dest: filepath.Join(t.TempDir(), "access.log"), Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	for _, endpoint := range []string{"", sinkCollector(t), "access log"} {
		var log *trace.AccessLog
		if endpoint == "access log" {
			endpoint, log = "", al
		}
		tr := newTracer(t, endpoint, 0)
		h := &handler{srv: newTraceServer(t, tr, log)}
		fc := &fakeConn{}
		h.OnOpen(fc)
		for _, req := range []string{benchPriceRequest, withParent} {
			run := func() {
				fc.in = []byte(req)
				fc.out = fc.out[:0]
				h.OnTraffic(fc)
			}
			run()
			if req == withParent && !bytes.Contains(fc.out, []byte("X-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736\r\n")) {
				t.Fatalf("reply %q lacks the incoming trace id", fc.out)
			}
			if !bytes.Contains(fc.out, []byte("HTTP/1.1 200 OK")) || !bytes.Contains(fc.out, []byte("X-Request-Id: ")) {
				t.Fatalf("reply %q", fc.out)
			}
			req := []byte(req)
			run = func() {
				fc.in = req
				fc.out = fc.out[:0]
				h.OnTraffic(fc)
			}
			if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
				t.Fatalf("endpoint %q: %.1f allocations per request", endpoint, allocs)
			}
		}
	}
}
