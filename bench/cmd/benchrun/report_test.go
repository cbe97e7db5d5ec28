package main

import (
	"math"
	"strings"
	"testing"
)

func TestSeedFloor(t *testing.T) {
	// P(max <= 48) = (38/40) * 1 = 0.95.
	if got := seedFloor(0.95); math.Abs(got-48) > 1e-6 {
		t.Errorf("seedFloor(0.95) = %v, want 48", got)
	}
	// Below 40 ms: (t-10)/40 * (t-20)/20 = 0.5 at t = 15+sqrt(625) = 40 - ...: check the CDF instead.
	q := seedFloor(0.5)
	if cdf := (q - 10) / 40 * (q - 20) / 20; math.Abs(cdf-0.5) > 1e-9 {
		t.Errorf("CDF at seedFloor(0.5) = %v", cdf)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseWrk(t *testing.T) {
	out := "Running 1s test\n  1 threads\nBENCHJSON {\"requests\":100,\"duration_us\":2000000,\"bytes\":1,\"connect_errors\":1,\"read_errors\":0,\"write_errors\":0,\"status_errors\":2,\"timeouts\":0,\"p50_us\":1500,\"p90_us\":2000,\"p95_us\":2500,\"p99_us\":3000,\"max_us\":9000,\"mean_us\":1.5}\n"
	w, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var c Cell
	w.fill(&c)
	if c.RPS != 50 || c.P95ms != 2.5 || c.Errors != 3 || c.MaxMs != 9 {
		t.Errorf("cell = %+v", c)
	}
	if _, err := parseWrk([]byte("no result")); err == nil {
		t.Error("parseWrk accepted output without a result line")
	}
}

func TestSplice(t *testing.T) {
	doc := "# T\n\n" + beginMarker + "\nold\n" + endMarker + "\ntail\n"
	out, err := splice([]byte(doc), "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\n" + beginMarker + "\nnew table\n" + endMarker + "\ntail\n"
	if string(out) != want {
		t.Errorf("splice = %q, want %q", out, want)
	}
	if _, err := splice([]byte("no markers"), "x"); err == nil {
		t.Error("splice accepted a document without markers")
	}
}

func TestMarkdownAndTargets(t *testing.T) {
	r := &Report{scenarios: allScenarios, servers: allServers, Rounds: 1}
	for _, c := range []Cell{
		{Scenario: scMem100, Server: "pricing-engine", RPS: 90, P95ms: 1},
		{Scenario: scMem100, Server: "fasthttp", RPS: 60, P95ms: 1},
		{Scenario: scMem100, Server: "gnetraw", RPS: 100, P95ms: 1},
		{Scenario: scSeed1k, Server: "pricing-engine", RPS: 20, P95ms: 50},
		{Scenario: scIdle, Server: "pricing-engine", OpenConns: 10, BytesPerCon: 5000},
	} {
		c.Round = 1
		r.Cells = append(r.Cells, c)
	}
	r.finish(0)
	md := r.markdown()
	for _, want := range []string{"| mem-c100 | pricing-engine (gnet) | 90 | 0.90x | 1.50x |", "| 0.90x | yes |", "4.88 KiB", "**no**"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestPairedRatio checks that ratios pair the cells of one round: with the
// machine's speed changing between rounds the ratio of the medians (here
// 100/120) differs from the median of the per-round ratios.
func TestPairedRatio(t *testing.T) {
	r := &Report{}
	for i, rps := range [][2]float64{{100, 120}, {50, 40}, {200, 150}} {
		r.Cells = append(r.Cells,
			Cell{Scenario: scMem100, Server: "pricing-engine", Round: i + 1, RPS: rps[0]},
			Cell{Scenario: scMem100, Server: "fasthttp", Round: i + 1, RPS: rps[1]})
	}
	// A round the peer failed is left out, not paired with another.
	r.Cells = append(r.Cells, Cell{Scenario: scMem100, Server: "pricing-engine", Round: 4, RPS: 1000},
		Cell{Scenario: scMem100, Server: "fasthttp", Round: 4, Err: "refused"})
	if got := r.pairedRatio(scMem100, "pricing-engine", "fasthttp"); got != 1.25 {
		t.Errorf("paired ratio = %v, want 1.25 (median of 0.83, 1.25, 1.33)", got)
	}
	if got := r.pairedRatio(scMem100, "pricing-engine", "gnetraw"); got != 0 {
		t.Errorf("ratio to a server with no cells = %v, want 0", got)
	}
}
