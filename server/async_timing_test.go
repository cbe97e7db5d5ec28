package server

import (
	"bytes"
	"context"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// Execute queues r to run when the test calls runTasks, as gnet would on
// its next loop iteration (gnet's own Execute wraps r in a closure: one
// allocation per flush and per drain, not per request).
func (l *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error {
	l.tasks = append(l.tasks, r)
	return nil
}

// runTasks runs the queued tasks, and those they queue, in order.
func (l *fakeLoop) runTasks() {
	for len(l.tasks) > 0 {
		l.run, l.tasks = append(l.run[:0], l.tasks...), l.tasks[:0]
		for i, r := range l.run {
			_ = r.Run(context.Background())
			l.run[i] = nil
		}
	}
}

// fakeBackend is an asynchronous lookup.Source without a network: every
// Call is kept, and Flush completes all of them (calling Done on the
// flushing goroutine, which the contract allows), so a benchmark measures
// the server's asynchronous path alone: register, flush, completion
// stack, wake, drain, reply, one write.
type fakeBackend struct{ mem *lookup.Memory }

func (f *fakeBackend) Instant() bool              { return false }
func (f *fakeBackend) NewBatcher() lookup.Batcher { return &fakeBatcher{mem: f.mem} }

type fakeBatcher struct {
	mem  *lookup.Memory
	kept []*lookup.Call
}

func (b *fakeBatcher) Lookup(c *lookup.Call) bool {
	b.kept = append(b.kept, c)
	return false
}

func (b *fakeBatcher) Flush() {
	for i, c := range b.kept {
		b.mem.Answer(c)
		b.kept[i] = nil
		c.Done(c)
	}
	b.kept = b.kept[:0]
}

func newAsyncBenchServer(tb testing.TB) *Server {
	tb.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		tb.Fatal(err)
	}
	src := &fakeBackend{mem: &lookup.Memory{Catalog: cat, Markets: mk}}
	mset := metrics.New(metrics.BuildInfo{})
	// With the lookup-duration histogram, as cmd/pricing-engine wires it.
	eng := pricing.NewEngine(src, pricing.Config{Observe: mset.ObserveLookup})
	s, err := New(Config{}, Deps{Engine: eng, Metrics: mset})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.pool.Release(); s.cancel() })
	return s
}

// asyncRound feeds batch to the handler, runs the loop's tasks (flush,
// then drain) and reports whether every request of batch got its reply.
func asyncRound(h *handler, fc *fakeConn, batch []byte, depth int) bool {
	fc.in = batch
	fc.out = fc.out[:0]
	if h.OnTraffic(fc) != gnet.None {
		return false
	}
	fc.loop.runTasks()
	return bytes.Count(fc.out, []byte("HTTP/1.1 200 OK")) == depth
}

// BenchmarkAsyncPath measures price requests whose lookups complete
// asynchronously (fakeBackend), through the event-loop handler: parse,
// decode, register the Call, flush, completion, drain, reply, one write
// per connection and drain. The target is 0 allocs/op in steady state.
func BenchmarkAsyncPath(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(map[int]string{1: "keepalive", 16: "pipelined16"}[depth], func(b *testing.B) {
			s := newAsyncBenchServer(b)
			h := &handler{srv: s}
			fc := &fakeConn{}
			h.OnOpen(fc)
			s.h = h
			batch := bytes.Repeat([]byte(benchPriceRequest), depth)
			if !asyncRound(h, fc, batch, depth) || !bytes.Contains(fc.out, []byte(`"final_price":55.37`)) {
				b.Fatalf("unexpected reply: %q", fc.out)
			}
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if !asyncRound(h, fc, batch, depth) {
					b.Fatalf("replies missing: %q", fc.out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/request")
		})
	}
}

// TestAsyncPathAllocs turns the benchmark's target into a test: after
// warm-up a request through the asynchronous path allocates nothing.
func TestAsyncPathAllocs(t *testing.T) {
	s := newAsyncBenchServer(t)
	h := &handler{srv: s}
	s.h = h
	fc := &fakeConn{}
	h.OnOpen(fc)
	batch := bytes.Repeat([]byte(benchPriceRequest), 4)
	for range 10 {
		if !asyncRound(h, fc, batch, 4) {
			t.Fatalf("replies missing: %q", fc.out)
		}
	}
	if allocs := testing.AllocsPerRun(200, func() { asyncRound(h, fc, batch, 4) }); allocs != 0 {
		t.Fatalf("asynchronous path allocates %.1f times per 4 requests, want 0", allocs)
	}
	if n := s.h.waiting.Load(); n != 0 {
		t.Errorf("%d requests still counted as waiting", n)
	}
}
