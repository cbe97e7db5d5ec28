package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReports runs a short load and writes the summary, JSON and plot.
func TestReports(t *testing.T) {
	srv := startTestServer(t, func(_ context.Context, r priceRequest) action {
		if r.ProductID == "P-5" {
			return action{status: 500, body: `{"detail":"x"}`}
		}
		return action{delay: time.Millisecond}
	})
	cfg := testConfig(srv.url())
	cfg.Duration = 1200 * time.Millisecond
	cfg.Workload.ProductMin, cfg.Workload.ProductMax = 1, 9
	res := mustRun(t, cfg)
	slo, err := ParseSLO("p95<150ms,failures=0")
	if err != nil {
		t.Fatal(err)
	}
	res.Verdict = slo.Evaluate(res)
	if res.Verdict.Pass {
		t.Fatalf("verdict passed with %d failures", res.Failures)
	}

	var sum bytes.Buffer
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"status_500=", "latency ms  p50", "verdict     FAIL"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}

	dir := t.TempDir()
	jp := filepath.Join(dir, "r.json")
	if err := res.WriteJSON(jp); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("JSON does not decode: %v", err)
	}
	if back.Requests != res.Requests || back.FailuresByReason["status_500"] != res.FailuresByReason["status_500"] ||
		back.Verdict == nil || back.Verdict.Pass || len(back.Series) != len(res.Series) || back.Latency.P95 != res.Latency.P95 {
		t.Errorf("JSON round trip lost data: %+v", back)
	}

	pp := filepath.Join(dir, "r.png")
	if err := WritePlot(res, pp); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 500 {
		t.Errorf("plot is %v, too small to read", b)
	}
	if out := os.Getenv("LOADTEST_PLOT_OUT"); out != "" { // for looking at it
		if err := WritePlot(res, out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoAllocs: rendering a request, reading its reply and checking it
// allocate nothing in the steady state.
func TestNoAllocs(t *testing.T) {
	rc := newRequestCycle(t)
	var err error
	allocs := testing.AllocsPerRun(1000, func() {
		if e := rc.cycle(); e != nil && err == nil {
			err = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per request, want 0", allocs)
	}
}
