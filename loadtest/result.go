package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is a latency summary in milliseconds.
type Latency struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// PercentilePoint is one point of the latency distribution.
type PercentilePoint struct {
	Percentile float64 `json:"percentile"`
	LatencyMs  float64 `json:"latency_ms"`
}

// SeriesPoint summarises one sampling interval of the run.
type SeriesPoint struct {
	// Seconds is the end of the interval, from the start of the run.
	Seconds  float64 `json:"t_seconds"`
	RPS      float64 `json:"rps"`
	Failures int64   `json:"failures"`
	P50      float64 `json:"p50_ms"`
	P95      float64 `json:"p95_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
}

// Result is the outcome of a run. Latencies are those of complete HTTP
// responses (whatever their status), measured from the send time in closed
// loop and from the due time in open loop; requests that ended in a timeout
// or a connection error are counted as failures but have no latency.
type Result struct {
	Mode     string  `json:"mode"` // "closed-loop" or "open-loop"
	URL      string  `json:"url"`
	Users    int     `json:"users"`
	Rate     float64 `json:"rate_rps,omitempty"`
	ThinkMin string  `json:"think_min"`
	ThinkMax string  `json:"think_max"`
	Pipeline int     `json:"pipeline"`
	NewConn  bool    `json:"new_conn"`
	// Engine is set when the run used another engine than the default
	// (EngineEpoll).
	Engine      string    `json:"engine,omitempty"`
	Started     time.Time `json:"started"`
	ElapsedSecs float64   `json:"elapsed_seconds"`
	WarmupSecs  float64   `json:"warmup_seconds"`

	// Requests counts the requests that completed or failed after warm-up.
	Requests  int64 `json:"requests"`
	Successes int64 `json:"successes"`
	Failures  int64 `json:"failures"`
	// FailuresByReason keys are Reason* constants and "status_NNN".
	FailuresByReason map[string]int64 `json:"failures_by_reason"`
	// FailureSamples holds the first few distinct failure descriptions,
	// each followed by how often it was seen.
	FailureSamples []string `json:"failure_samples,omitempty"`
	// WarmupExcluded counts requests that completed during the warm-up.
	WarmupExcluded int64 `json:"warmup_excluded"`
	// Retries counts requests resent once because a reused keep-alive
	// connection had been closed by the server before they were sent.
	Retries int64 `json:"retries"`
	// Throughput is Requests per second after the warm-up.
	Throughput float64 `json:"throughput_rps"`

	// Batch is the number of items per request of the batch workload
	// (Workload.Batch); the item fields below are set only then.
	Batch int `json:"batch_items,omitempty"`
	// Items counts the items of Requests (Requests x Batch).
	Items int64 `json:"items,omitempty"`
	// ItemSuccesses counts the items answered 200 that passed the check
	// (items of a failed batch included when they passed).
	ItemSuccesses int64 `json:"item_successes,omitempty"`
	// ItemThroughput is Items per second after the warm-up.
	ItemThroughput float64 `json:"throughput_items_per_s,omitempty"`

	Latency Latency `json:"latency"`
	// Latency200 is Latency over the responses with status 200 only (the
	// accepted requests when a server sheds load with 503s); unset when
	// there were none.
	Latency200   *Latency          `json:"latency_200,omitempty"`
	Distribution []PercentilePoint `json:"distribution"`
	Series       []SeriesPoint     `json:"series"`

	// Verdict is set by the caller after Evaluate.
	Verdict *Verdict `json:"slo,omitempty"`

	hist *hdrhistogram.Histogram
}

// distributionPercentiles returns the points of Result.Distribution.
func distributionPercentiles() []float64 {
	return []float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}
}

func usToMs(v int64) float64 { return float64(v) / 1000 }

func (r *runner) result(end time.Time, rep *reporter) *Result {
	h := r.st.merged()
	byReason, failed := r.st.failures()
	ok := r.st.ok.Load()
	res := &Result{
		Mode:             "closed-loop",
		URL:              r.cfg.URL,
		Users:            r.cfg.Users,
		Rate:             r.cfg.Rate,
		ThinkMin:         r.cfg.ThinkMin.String(),
		ThinkMax:         r.cfg.ThinkMax.String(),
		Pipeline:         r.cfg.Pipeline,
		NewConn:          r.cfg.NewConn,
		Engine:           r.cfg.Engine,
		Started:          r.start,
		ElapsedSecs:      end.Sub(r.start).Seconds(),
		WarmupSecs:       r.cfg.Warmup.Seconds(),
		Requests:         ok + failed,
		Successes:        ok,
		Failures:         failed,
		FailuresByReason: byReason,
		FailureSamples:   r.st.failureSamples(),
		WarmupExcluded:   r.st.warmupDone.Load(),
		Retries:          r.st.retries.Load(),
		Series:           rep.series,
		hist:             h,
	}
	if r.cfg.Rate > 0 {
		res.Mode = "open-loop"
	}
	if res.Engine == EngineGoroutine {
		res.Engine = ""
	}
	if b := r.cfg.Workload.Batch; b > 0 {
		res.Batch = b
		res.Items = res.Requests * int64(b)
		res.ItemSuccesses = r.st.itemsOK.Load()
	}
	if span := end.Sub(r.start) - r.cfg.Warmup; span > 0 {
		res.Throughput = float64(res.Requests) / span.Seconds()
		res.ItemThroughput = float64(res.Items) / span.Seconds()
	}
	if h200 := r.st.merged200(); h200.TotalCount() > 0 {
		l := latencyOf(h200)
		res.Latency200 = &l
	}
	if h.TotalCount() > 0 {
		res.Latency = latencyOf(h)
		for _, p := range distributionPercentiles() {
			res.Distribution = append(res.Distribution, PercentilePoint{Percentile: p, LatencyMs: usToMs(h.ValueAtPercentile(p))})
		}
	}
	return res
}

// latencyOf summarises h, a non-empty histogram in microseconds.
func latencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{
		Min:  usToMs(h.Min()),
		Mean: h.Mean() / 1000,
		P50:  usToMs(h.ValueAtPercentile(50)),
		P90:  usToMs(h.ValueAtPercentile(90)),
		P95:  usToMs(h.ValueAtPercentile(95)),
		P99:  usToMs(h.ValueAtPercentile(99)),
		P999: usToMs(h.ValueAtPercentile(99.9)),
		Max:  usToMs(h.Max()),
	}
}

// Percentile returns the latency in milliseconds at percentile p (0..100)
// of the whole run, or 0 when no response was measured.
func (res *Result) Percentile(p float64) float64 {
	if res.hist == nil || res.hist.TotalCount() == 0 {
		return 0
	}
	return usToMs(res.hist.ValueAtPercentile(p))
}

// WriteJSON writes the result as indented JSON to path.
func (res *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write result: %w", err)
	}
	return nil
}

// WriteSummary writes a human-readable summary of the result.
func (res *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target      %s (%s, %d users", res.URL, res.Mode, res.Users)
	if res.Rate > 0 {
		fmt.Fprintf(&b, ", %.0f req/s", res.Rate)
	} else {
		fmt.Fprintf(&b, ", think %s-%s", res.ThinkMin, res.ThinkMax)
	}
	if res.Pipeline > 1 {
		fmt.Fprintf(&b, ", pipeline %d", res.Pipeline)
	}
	if res.NewConn {
		b.WriteString(", new connection per request")
	}
	if res.Engine != "" {
		fmt.Fprintf(&b, ", %s engine", res.Engine)
	}
	if res.Batch > 0 {
		fmt.Fprintf(&b, ", batches of %d items", res.Batch)
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "elapsed     %.1fs (warm-up %.1fs, %d requests excluded)\n", res.ElapsedSecs, res.WarmupSecs, res.WarmupExcluded)
	fmt.Fprintf(&b, "requests    %d  (%.1f req/s)\n", res.Requests, res.Throughput)
	if res.Batch > 0 {
		fmt.Fprintf(&b, "items       %d  (%.1f items/s), %d passed the check\n", res.Items, res.ItemThroughput, res.ItemSuccesses)
	}
	fmt.Fprintf(&b, "successes   %d\n", res.Successes)
	pct := 0.0
	if res.Requests > 0 {
		pct = 100 * float64(res.Failures) / float64(res.Requests)
	}
	fmt.Fprintf(&b, "failures    %d (%.3f%%)", res.Failures, pct)
	keys := make([]string, 0, len(res.FailuresByReason))
	for k := range res.FailuresByReason {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%d", k, res.FailuresByReason[k])
	}
	b.WriteString("\n")
	for _, s := range res.FailureSamples {
		fmt.Fprintf(&b, "  e.g. %s\n", s)
	}
	if res.Retries > 0 {
		fmt.Fprintf(&b, "retries     %d (stale keep-alive connections)\n", res.Retries)
	}
	l := res.Latency
	fmt.Fprintf(&b, "latency ms  p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
		l.P50, l.P90, l.P95, l.P99, l.P999, l.Max)
	if res.Verdict != nil {
		b.WriteString(res.Verdict.String())
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("cannot write summary: %w", err)
	}
	return nil
}
