package server

import (
	"bytes"
	"net"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// fakeConn is the part of gnet.Conn the handler uses, backed by byte
// slices: the whole request path (bytes in, bytes out) runs without a
// socket, so allocations and CPU are the handler's own.
type fakeConn struct {
	gnet.Conn // nil: any method not overridden panics
	ctx       any
	in        []byte
	out       []byte
	loop      fakeLoop
}

type fakeLoop struct {
	gnet.EventLoop
	tasks, run []gnet.Runnable // queued by Execute (async_timing_test.go)
}

func (c *fakeConn) Context() any              { return c.ctx }
func (c *fakeConn) SetContext(v any)          { c.ctx = v }
func (c *fakeConn) EventLoop() gnet.EventLoop { return &c.loop }
func (c *fakeConn) RemoteAddr() net.Addr      { return nil }
func (c *fakeConn) Fd() int                   { return -1 } // no socket: connections cannot be parked
func (c *fakeConn) InboundBuffered() int      { return len(c.in) }
func (c *fakeConn) OutboundBuffered() int     { return 0 }
func (c *fakeConn) Peek(n int) ([]byte, error) {
	if n <= 0 || n > len(c.in) {
		return c.in, nil
	}
	return c.in[:n], nil
}
func (c *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n >= len(c.in) {
		n = len(c.in)
	}
	c.in = c.in[n:]
	return n, nil
}
func (c *fakeConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

func newBenchServer(tb testing.TB) *Server {
	tb.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		tb.Fatal(err)
	}
	mset := metrics.New(metrics.BuildInfo{})
	// The binary's memory source: the writable store of the admin API.
	src := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{})
	s, err := New(Config{}, Deps{Engine: pricing.NewEngine(src, pricing.Config{}), Metrics: mset})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.pool.Release(); s.cancel() })
	return s
}

const benchPriceRequest = "POST /api/v1/price HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
	"Content-Type: application/json\r\nContent-Length: 71\r\n\r\n" +
	`{"product_id": "P-123", "user_location": "NY", "is_prime_member": true}`

// BenchmarkRequestPath measures one in-memory price request through the
// event-loop handler: parse, route, decode, price, encode, reply head,
// metrics. The target is 0 allocs/op.
func BenchmarkRequestPath(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(map[int]string{1: "keepalive", 16: "pipelined16"}[depth], func(b *testing.B) {
			s := newBenchServer(b)
			h := &handler{srv: s}
			fc := &fakeConn{}
			h.OnOpen(fc)
			batch := bytes.Repeat([]byte(benchPriceRequest), depth)
			want := []byte(`"final_price":55.37`)
			// Warm up pools and observer caches.
			fc.in = batch
			h.OnTraffic(fc)
			if !bytes.Contains(fc.out, want) {
				b.Fatalf("unexpected reply: %q", fc.out)
			}
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				fc.in = batch
				fc.out = fc.out[:0]
				if h.OnTraffic(fc) != gnet.None {
					b.Fatal("connection closed")
				}
			}
			b.StopTimer()
			if n := bytes.Count(fc.out, []byte("HTTP/1.1 200 OK")); n != depth {
				b.Fatalf("%d replies for %d requests", n, depth)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/request")
		})
	}
}

// TestRequestPathAllocs turns the benchmark's target into a test: after
// warm-up an in-memory request allocates nothing.
func TestRequestPathAllocs(t *testing.T) {
	s := newBenchServer(t)
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	req := []byte(benchPriceRequest)
	run := func() {
		fc.in = req
		fc.out = fc.out[:0]
		h.OnTraffic(fc)
	}
	run()
	if allocs := testing.AllocsPerRun(200, run); allocs != 0 {
		t.Fatalf("request path allocates %.1f times per request, want 0", allocs)
	}
}
