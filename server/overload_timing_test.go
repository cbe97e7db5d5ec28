package server_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/loadtest"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/server"
)

// BenchmarkOverload measures the capacity of a server with a deliberately
// small bound on requests waiting on lookups (seed latency profile,
// MaxWaiting 256), then offers open-loop load at three times that capacity
// for PRICING_OVERLOAD_DURATION (default 30s) and finally half the
// capacity for 5 s. It reports the shed share, the P99 of the overload phase (from
// the due time, so queueing counts), the recovery phase's failures and P99,
// and the heap and goroutines of the process (server and load generator
// together). Run it once:
//
//	go test -run '^$' -bench Overload -benchtime 1x -timeout 10m ./server
func BenchmarkOverload(b *testing.B) {
	dur := 30 * time.Second
	if v := os.Getenv("PRICING_OVERLOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		dur = d
	}
	prof, err := lookup.ParseProfile("seed")
	if err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, serverOpts{src: prof.Wrap(memorySource(b)), cfg: server.Config{MaxWaiting: 256}})
	run := func(users int, rate float64, d time.Duration) *loadtest.Result {
		b.Helper()
		cfg := loadtest.DefaultConfig()
		cfg.Users, cfg.Rate, cfg.Duration = users, rate, d
		cfg.ThinkMin, cfg.ThinkMax, cfg.Ramp = 0, 0, 0
		cfg.Warmup = time.Second
		cfg.Progress = nil
		cfg.URL = "http://" + ts.addr + "/api/v1/price"
		cfg.Workload = loadtest.ClassicWorkload()
		cfg.Timeout = 10 * time.Second
		res, err := loadtest.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	for b.Loop() {
		capRes := run(256, 0, 5*time.Second)
		capacity := capRes.Throughput

		var peakHeap uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peakHeap = max(peakHeap, ms.HeapInuse)
				}
			}
		}()
		over := run(2000, 3*capacity, dur)
		close(stop)
		<-sampled

		rec := run(200, capacity/2, 5*time.Second)

		shed := over.FailuresByReason["status_503"]
		b.ReportMetric(capacity, "capacity-rps")
		b.ReportMetric(over.Throughput, "overload-offered-done-rps")
		b.ReportMetric(float64(over.Successes)/over.ElapsedSecs, "overload-ok-rps")
		b.ReportMetric(100*float64(shed)/float64(max(over.Requests, 1)), "shed-%")
		b.ReportMetric(float64(over.Failures-shed), "overload-other-failures")
		b.ReportMetric(over.Latency.P99, "overload-p99-ms")
		b.ReportMetric(capRes.Latency.P99, "capacity-p99-ms")
		b.ReportMetric(float64(rec.Failures), "recovery-failures")
		b.ReportMetric(rec.Latency.P99, "recovery-p99-ms")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines-after")
		if rec.Failures != 0 {
			b.Errorf("recovery phase: %d failures %v", rec.Failures, rec.FailureSamples)
		}
		if other := over.Failures - shed; other != 0 {
			b.Errorf("overload: %d failures other than 503: %v", other, over.FailureSamples)
		}
	}
}
