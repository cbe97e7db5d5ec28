package server

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
	"github.com/pricing-engine/pricing-engine/quote"
)

// newQuoteServer is newBenchServer with quote keys.
func newQuoteServer(tb testing.TB) *Server {
	tb.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := quote.New([]quote.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}}, 15*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	src := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{})
	s, err := New(Config{}, Deps{Engine: pricing.NewEngine(src, pricing.Config{Quotes: ring}), Metrics: metrics.New(metrics.BuildInfo{})})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.pool.Release(); s.cancel() })
	return s
}

// postRequest is a keep-alive POST of body to path, as benchPriceRequest.
func postRequest(path, body string) []byte {
	return []byte("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// The bodies of BenchmarkQuote: the same request with and without a
// quote (the unquoted body pads "quote" to the same length, so that both
// parse the same bytes).
var (
	benchUnquoted = postRequest("/api/v1/price", `{"product_id": "P-123", "user_location": "NY", "is_prime_member": true, "quote": 0}`)
	benchQuoted   = postRequest("/api/v1/price", `{"product_id": "P-123", "user_location": "NY", "is_prime_member": true, "quote": 1}`)
)

// BenchmarkQuote is the cost of signing a quote on the request path: one
// in-memory price request through the event-loop handler (parse, route,
// decode, price, encode, reply, metrics), unquoted then quoted, on the
// same server; the difference of the two is what a quote adds (compare
// with benchstat -col /req). req=verify is
// POST /api/v1/quotes/verify of a genuine token through the same path.
func BenchmarkQuote(b *testing.B) {
	s := newQuoteServer(b)
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	fc.in = benchQuoted
	h.OnTraffic(fc)
	_, after, _ := bytes.Cut(fc.out, []byte(`"token":"`))
	token, _, _ := bytes.Cut(after, []byte(`"`))
	benchVerify := postRequest("/api/v1/quotes/verify", `{"token":"`+string(token)+`"}`)
	for _, tc := range []struct {
		name string
		req  []byte
		want string
	}{
		{"req=unquoted", benchUnquoted, `"source":"live"}`},
		{"req=quoted", benchQuoted, `"token":"v1.k1.`},
		{"req=verify", benchVerify, `{"valid":true,`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			fc.in, fc.out = tc.req, fc.out[:0]
			h.OnTraffic(fc)
			if !bytes.Contains(fc.out, []byte("HTTP/1.1 200 OK")) || !bytes.Contains(fc.out, []byte(tc.want)) {
				b.Fatalf("unexpected reply: %q", fc.out)
			}
			b.ReportAllocs()
			// The machine may be shared: CPU time of this thread, not
			// wall time, is the cost (cpu-ns/op).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU(b)
			for b.Loop() {
				fc.in, fc.out = tc.req, fc.out[:0]
				if h.OnTraffic(fc) != gnet.None {
					b.Fatal("connection closed")
				}
			}
			b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestQuotePathAllocs: a quoted request allocates nothing on the event
// loop once warm, as an unquoted one.
func TestQuotePathAllocs(t *testing.T) {
	s := newQuoteServer(t)
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	run := func() {
		fc.in, fc.out = benchQuoted, fc.out[:0]
		h.OnTraffic(fc)
	}
	run()
	if !bytes.Contains(fc.out, []byte(`"token":"v1.k1.`)) {
		t.Fatalf("no quote in %q", fc.out)
	}
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("a quoted request allocates %.1f times, want 0", allocs)
	}
}

// threadCPU is the CPU time (user and system) the calling OS thread has
// used, in nanoseconds.
func threadCPU(tb testing.TB) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		tb.Fatalf("cannot read the thread's CPU time: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
