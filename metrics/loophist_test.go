package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
)

// testOpts are the options of http_request_duration_seconds.
func testOpts() prometheus.HistogramOpts {
	return histogramOpts("test_duration_seconds", "A test histogram.", RequestBuckets)
}

// writeSeries returns the written metric of m without its created
// timestamp (client_golang's and ours are taken at different times).
func writeSeries(t *testing.T, m prometheus.Metric) *dto.Metric {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	out.Histogram.CreatedTimestamp = nil
	return &out
}

// nativeBoundaries returns the schema-3 bucket boundaries of a few octaves
// and their neighbouring floats.
func nativeBoundaries() []float64 {
	var vs []float64
	for e := -12; e <= 3; e++ {
		for _, b := range schema3Bounds {
			x := math.Ldexp(b, e)
			vs = append(vs, math.Nextafter(x, 0), x, math.Nextafter(x, 2*x))
		}
	}
	return vs
}

// TestLoopHistogramMatchesClientGolang feeds the same observations to a
// client_golang histogram and to a LoopHistogramVec series, through one
// observer and spread over three, and compares the written metrics.
func TestLoopHistogramMatchesClientGolang(t *testing.T) {
	var classicEdges []float64
	for _, b := range RequestBuckets {
		classicEdges = append(classicEdges, math.Nextafter(b, 0), b, math.Nextafter(b, 1e9))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var lognormal []float64
	for range 5000 {
		lognormal = append(lognormal, math.Exp(rng.NormFloat64()*2-7))
	}
	// wide covers 200 consecutive schema-3 buckets: past the limit of
	// 160, so the schema halves once.
	var wide []float64
	for k := -180; k < 20; k++ {
		wide = append(wide, math.Exp2(float64(k)/8-0.01))
	}
	// sparse puts 170 buckets 2^4 octaves apart: halving the schema merges
	// none of them, so every further observation halves it again, down to
	// the lowest schema, as client_golang does.
	var sparse []float64
	for k := range 170 {
		sparse = append(sparse, math.Exp2(float64(k*16-1300)/8))
	}
	sparse = append(sparse, 1, 2, 3)
	for _, tt := range []struct {
		name string
		obs  []float64
	}{
		{"none", nil},
		// Buckets 0, 2, 5 and 9: gaps of one, two and three empty
		// buckets (a span is split at gaps of three or more).
		{"gaps", []float64{0.99, math.Exp2(1.9 / 8), math.Exp2(4.9 / 8), math.Exp2(8.9 / 8)}},
		{"zero", []float64{0, 0, 0}},
		{"zero bucket edge", []float64{zeroThreshold, math.Nextafter(zeroThreshold, 0), math.Nextafter(zeroThreshold, 1), math.SmallestNonzeroFloat64}},
		{"classic bucket boundaries", classicEdges},
		{"native bucket boundaries", nativeBoundaries()},
		{"tiny", []float64{1e-300, 1e-100, 2e-39, math.Ldexp(1, -33), math.Ldexp(1, -32), 1e-9}},
		{"huge", []float64{256, 1e6, 1e300, math.MaxFloat64, math.Inf(+1), math.Inf(+1)}},
		{"negative", []float64{-0.001, -1, -1e300, math.Inf(-1), math.Copysign(0, -1), -zeroThreshold}},
		{"lognormal durations", lognormal},
		{"wide: schema halves", wide},
		{"sparse: schema halves to the lowest", sparse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// One observer, three taking turns, and one recording each
			// value twice with one ObserveN.
			for _, mode := range []struct{ observers, n int }{{1, 1}, {3, 1}, {1, 2}} {
				observers := mode.observers
				cg := prometheus.NewHistogramVec(testOpts(), []string{"code"})
				ours := NewLoopHistogramVec(testOpts(), []string{"code"})
				co := cg.WithLabelValues("200")
				var os []*LoopObserver
				for range observers {
					os = append(os, ours.NewObserver("200"))
				}
				for i, v := range tt.obs {
					for range mode.n {
						co.Observe(v)
					}
					if mode.n == 1 {
						os[i%observers].Observe(v)
					} else {
						os[i%observers].ObserveN(v, uint64(mode.n))
					}
				}
				want := writeSeries(t, co.(prometheus.Metric))
				got := writeSeries(t, ours.series["200"])
				if observers > 1 {
					// The sum is added observer by observer.
					w, g := want.Histogram.GetSampleSum(), got.Histogram.GetSampleSum()
					if !(math.Abs(w-g) <= 1e-12*math.Abs(w)) && w != g {
						t.Errorf("%d observers: sum %v, want %v", observers, g, w)
					}
					got.Histogram.SampleSum = want.Histogram.SampleSum
				}
				if !proto.Equal(got, want) {
					t.Errorf("%+v:\n got %v\nwant %v", mode, got, want)
				}
			}
		})
	}
}

// TestLoopHistogramNaN checks a NaN observation: counted in +Inf and the
// count, a NaN sum, no native bucket, as in client_golang.
func TestLoopHistogramNaN(t *testing.T) {
	cg := prometheus.NewHistogram(testOpts())
	ours := NewLoopHistogramVec(testOpts(), nil)
	o := ours.NewObserver()
	for _, v := range []float64{0.01, math.NaN(), 2} {
		cg.Observe(v)
		o.Observe(v)
	}
	want, got := writeSeries(t, cg), writeSeries(t, ours.series[""])
	if !math.IsNaN(got.Histogram.GetSampleSum()) {
		t.Errorf("sum %v, want NaN", got.Histogram.GetSampleSum())
	}
	got.Histogram.SampleSum, want.Histogram.SampleSum = nil, nil
	if !proto.Equal(got, want) {
		t.Errorf("\n got %v\nwant %v", got, want)
	}
}

// TestLoopHistogramExemplars compares the exemplars of both histograms:
// the latest per classic bucket and the native exemplars.
func TestLoopHistogramExemplars(t *testing.T) {
	cg := prometheus.NewHistogram(testOpts())
	ours := NewLoopHistogramVec(testOpts(), nil)
	o := ours.NewObserver()
	for i, v := range []float64{0.003, 0.004, 0.2, 20, 0.2, 3} {
		e := prometheus.Labels{"trace_id": fmt.Sprintf("%032x", i)}
		cg.(prometheus.ExemplarObserver).ObserveWithExemplar(v, e)
		o.ObserveWithExemplar(v, e)
		o.Observe(v / 2)
		cg.Observe(v / 2)
	}
	want, got := writeSeries(t, cg), writeSeries(t, ours.series[""])
	if n := len(got.Histogram.GetExemplars()); n != 6 {
		t.Errorf("%d native exemplars, want 6", n)
	}
	for _, m := range []*dto.Metric{want, got} {
		for _, b := range m.Histogram.Bucket {
			if b.Exemplar != nil {
				b.Exemplar.Timestamp = nil
			}
		}
		for _, e := range m.Histogram.Exemplars {
			e.Timestamp = nil
		}
	}
	if !proto.Equal(got, want) {
		t.Errorf("\n got %v\nwant %v", got, want)
	}
	if got.Histogram.Bucket[len(RequestBuckets)].GetExemplar() == nil {
		t.Error("no +Inf bucket with the exemplar of 20")
	}
}

// TestLoopHistogramReset drives the reset rules with a fake clock: past
// the bucket limit, a series whose last reset is an hour old resets and
// keeps the observation that caused it; a younger one halves its schema
// and schedules a reset for when the hour is up, which clears every
// observer, including ones that observe no more.
func TestLoopHistogramReset(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var scheduled []time.Duration
	var fire []func()
	v := NewLoopHistogramVec(testOpts(), nil)
	v.now = func() time.Time { return now }
	v.afterFunc = func(d time.Duration, f func()) *time.Timer {
		scheduled, fire = append(scheduled, d), append(fire, f)
		return nil
	}
	a, b := v.NewObserver(), v.NewObserver()
	b.Observe(0.5)
	spread := func(o *LoopObserver, n int) {
		for k := range n {
			o.Observe(math.Exp2(float64(k-130)/8 - 0.06)) // bucket k-130
		}
	}

	now = start.Add(10 * time.Minute)
	spread(a, 161)
	m := writeSeries(t, v.series[""])
	if got := m.Histogram.GetSchema(); got != 2 {
		t.Fatalf("schema %d after passing the limit, want 2", got)
	}
	if m.Histogram.GetSampleCount() != 162 {
		t.Fatalf("count %d, want 162", m.Histogram.GetSampleCount())
	}
	if len(scheduled) != 1 || scheduled[0] != 50*time.Minute {
		t.Fatalf("scheduled resets %v, want one in 50m", scheduled)
	}

	now = start.Add(time.Hour)
	fire[0]()
	var out dto.Metric
	if err := v.series[""].Write(&out); err != nil {
		t.Fatal(err)
	}
	if c, s := out.Histogram.GetSampleCount(), out.Histogram.GetSchema(); c != 0 || s != 3 {
		t.Fatalf("after the scheduled reset: count %d schema %d, want 0 and 3", c, s)
	}
	if !out.Histogram.GetCreatedTimestamp().AsTime().Equal(now) {
		t.Errorf("created %v, want %v", out.Histogram.GetCreatedTimestamp().AsTime(), now)
	}

	// An hour and a half after that reset, passing the limit resets at
	// once, keeping the last observation only.
	spread(a, 160)
	now = now.Add(90 * time.Minute)
	a.Observe(1e6)
	m = writeSeries(t, v.series[""])
	if c, s := m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum(); c != 1 || s != 1e6 {
		t.Fatalf("after the immediate reset: count %d sum %v, want 1 and 1e6", c, s)
	}
	if len(scheduled) != 1 {
		t.Errorf("scheduled resets %v, want none more", scheduled)
	}
	b.Observe(0.25) // b's counts are of an old generation: cleared first
	m = writeSeries(t, v.series[""])
	if c, s := m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum(); c != 2 || s != 1e6+0.25 {
		t.Fatalf("after b observes: count %d sum %v, want 2 and 1e6+0.25", c, s)
	}
}

// TestLoopHistogramConcurrentScrapes has several observers, each on its
// own goroutine, observe while another goroutine scrapes: every scrape
// must be self-consistent (the +Inf bucket, the native buckets and the
// zero bucket all add up to the count) and counts never fall; at the end
// the totals are exact.
func TestLoopHistogramConcurrentScrapes(t *testing.T) {
	defer goleak.VerifyNone(t)
	const loops, each = 4, 20000
	v := NewLoopHistogramVec(testOpts(), []string{"code"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(v)
	shared := v.SharedObserver("200")
	var wg sync.WaitGroup
	for l := range loops {
		o := v.NewObserver("200")
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(l), 7))
			for i := range each {
				d := math.Exp(rng.NormFloat64()*2 - 7)
				if i%100 == 0 {
					d = 0
				}
				if i%1000 == 0 {
					shared.Observe(d)
					continue
				}
				o.Observe(d)
			}
		})
	}
	stop := make(chan struct{})
	scrapes := make(chan int, 1)
	go func() {
		n, last := 0, uint64(0)
		defer func() { scrapes <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Error(err)
				return
			}
			for _, mf := range mfs {
				h := mf.GetMetric()[0].GetHistogram()
				count := h.GetSampleCount()
				native := h.GetZeroCount()
				var c int64
				for _, d := range h.GetPositiveDelta() {
					c += d
					native += uint64(c)
				}
				if native != count {
					t.Errorf("scrape %d: native buckets hold %d, count %d", n, native, count)
					return
				}
				if cum := h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount(); cum > count {
					t.Errorf("scrape %d: last bucket %d over count %d", n, cum, count)
					return
				}
				if count < last {
					t.Errorf("scrape %d: count fell from %d to %d", n, last, count)
					return
				}
				last = count
			}
			n++
		}
	}()
	wg.Wait()
	close(stop)
	t.Logf("%d scrapes during the observations", <-scrapes)
	var m dto.Metric
	if err := v.series["200"].Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram().GetSampleCount(); got != loops*each {
		t.Errorf("count %d, want %d", got, loops*each)
	}
}

// BenchmarkObserveDuration compares one observation of a request duration
// through client_golang's histogram (how the loops observed before) and
// through a loop's LoopObserver, with the options of
// http_request_duration_seconds and durations from 10 µs to 10 ms;
// impl=loop-run16 records runs of 16 equal durations with one ObserveN,
// as observeReplies does for a pipelined batch (ns/op is per observation).
// benchstat -col /impl compares them.
func BenchmarkObserveDuration(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ds [256]float64
	for i := range ds {
		ds[i] = math.Exp(rng.Float64()*math.Log(1000)) * 10e-6
	}
	b.Run("impl=client_golang", func(b *testing.B) {
		o := prometheus.NewHistogramVec(testOpts(), []string{"code"}).WithLabelValues("200")
		b.ReportAllocs()
		for i := range b.N {
			o.Observe(ds[i&255])
		}
	})
	b.Run("impl=loop", func(b *testing.B) {
		o := NewLoopHistogramVec(testOpts(), []string{"code"}).NewObserver("200")
		b.ReportAllocs()
		for i := range b.N {
			o.Observe(ds[i&255])
		}
	})
	b.Run("impl=loop-run16", func(b *testing.B) {
		o := NewLoopHistogramVec(testOpts(), []string{"code"}).NewObserver("200")
		b.ReportAllocs()
		for i := 0; i < b.N; i += 16 {
			o.ObserveN(ds[(i>>4)&255], 16)
		}
	})
}
