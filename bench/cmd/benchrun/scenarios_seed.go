package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

// The seed-profile rate ladder (--seed-ladder): how many requests per
// second each server holds when every request waits for the old service's
// simulated lookups (catalog U[10,50] ms, market U[20,40] ms, concurrent).
//
// Method: for each rate of the ladder, ascending, each server in turn
// (interleaved, so the machine's drift hits all of them alike): a fresh
// server pinned to --server-cpu, then bin/loadtest pinned to --client-cpu
// in open loop at that rate (latency counted from each request's intended
// send time, so a stalled server cannot hide its queue) for --ladder-step
// after a 2 s warm-up. A step holds when P95 < 150 ms with 0 failures; a
// server's figure is the largest rate it held before its first miss (it
// is not run at higher rates after a miss). CPU per request is the
// server's user+system time over the step (/proc/PID/stat) divided by the
// requests answered; the load generator's share of its core over the
// whole run is recorded beside it, to show when the generator, not the
// server, is the limit. The generator is bin/loadtest's epoll engine by
// default (--ladder-engine): one thread, non-blocking sockets, several
// thousand connections and tens of thousands of requests per second from
// one core; --ladder-tick batches its wake-ups.
var (
	seedLadder  = flag.Bool("seed-ladder", false, "run the seed-profile rate ladder instead of the scenarios (see scenarios_seed.go)")
	ladderRates = flag.String("ladder-rates", "10000,15000,20000,25000,30000,35000,40000,45000,50000,55000,60000,65000,70000", "comma-separated open-loop arrival rates of the ladder, ascending")
	ladderStep  = flag.Duration("ladder-step", 5*time.Second, "measured length of one ladder step")
	ladderUsers = flag.Int("ladder-users", 2000, "connections of the ladder's load generator")
	ladderEng   = flag.String("ladder-engine", "epoll", "open-loop engine of the ladder's load generator: epoll or goroutine (see loadtest --engine)")
	ladderTick  = flag.Duration("ladder-tick", 500*time.Microsecond, "epoll engine: wake at most once a tick while requests are in flight (sends and reply times up to a tick late; 0: every event)")
)

// ladderP95 is the SLO of a ladder step (the old service's acceptance
// objective).
const ladderP95 = 150 * time.Millisecond

// ladderWarmup is left out of each step: the generator opens its
// connections (thousands at once) and the server's pools fill.
const ladderWarmup = 2 * time.Second

// ladderStepResult is one server at one rate.
type ladderStepResult struct {
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved_rps"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Failures int64   `json:"failures"`
	Requests int64   `json:"requests"`
	CPUus    float64 `json:"cpu_us_per_request"`
	// GenCore is the load generator's CPU time over its run's wall time
	// (1 = its whole core).
	GenCore float64 `json:"generator_core_share"`
	Held    bool    `json:"held"`
	Err     string  `json:"error,omitempty"`
}

// loadtestReport is the part of bin/loadtest's JSON report the ladder reads.
type loadtestReport struct {
	Requests   int64   `json:"requests"`
	Failures   int64   `json:"failures"`
	Throughput float64 `json:"throughput_rps"`
	Latency    struct {
		P50 float64 `json:"p50_ms"`
		P95 float64 `json:"p95_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"latency"`
}

func runSeedLadder(ctx context.Context, cfg *config) error {
	rates, err := parseRates(*ladderRates)
	if err != nil {
		return err
	}
	step, users := *ladderStep, *ladderUsers
	if cfg.smoke {
		rates, step, users = []float64{200, 400}, time.Second, 50
	}
	var servs []server
	for _, s := range selectServers(cfg.servers) {
		if !s.noLatency {
			servs = append(servs, s)
		}
	}
	if len(servs) == 0 {
		return errors.New("no server that runs the seed profile selected")
	}
	binDir, err := os.MkdirTemp("", "benchrun-ladder-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	if err := build(ctx, cfg.repo, binDir, servs); err != nil {
		return err
	}
	lt := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, "loadtest"), "./cmd/loadtest")
	lt.Dir, lt.Stdout, lt.Stderr = cfg.repo, os.Stderr, os.Stderr
	if err := lt.Run(); err != nil {
		return fmt.Errorf("cannot build loadtest: %w", err)
	}

	results := make(map[string][]ladderStepResult)
	stopped := make(map[string]bool)
	for _, rate := range rates {
		for _, sv := range servs {
			if stopped[sv.key] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			r := ladderStep1(ctx, cfg, binDir, sv, rate, step, users)
			logf("ladder %-15s %6.0f req/s: achieved %6.0f, p95 %7.1f ms, failures %d, %5.1f us CPU/request, generator %3.0f%% of its core %s",
				sv.key, rate, r.Achieved, r.P95Ms, r.Failures, r.CPUus, 100*r.GenCore, map[bool]string{true: "held", false: "MISSED " + r.Err}[r.Held])
			results[sv.key] = append(results[sv.key], r)
			if !r.Held {
				stopped[sv.key] = true
			}
		}
	}
	md := ladderMarkdown(servs, rates, results, step, users, cfg)
	fmt.Println(md)
	if cfg.outJSON != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.outJSON, b, 0o644); err != nil {
			return err
		}
	}
	if cfg.doc != "" {
		if err := spliceBetween(cfg.doc, "<!-- seed-ladder:begin -->", "<!-- seed-ladder:end -->", md); err != nil {
			return err
		}
	}
	if cfg.smoke {
		for _, sv := range servs {
			rs := results[sv.key]
			if len(rs) == 0 || rs[0].Requests == 0 || rs[0].Failures != 0 {
				return fmt.Errorf("ladder smoke: %s did not answer its first step cleanly: %+v", sv.key, rs)
			}
		}
	}
	return nil
}

// ladderStep1 runs one server at one rate.
func ladderStep1(ctx context.Context, cfg *config, binDir string, sv server, rate float64, step time.Duration, users int) ladderStepResult {
	r := ladderStepResult{Rate: rate}
	p, err := startServer(ctx, binDir, cfg.serverCPU, sv, "seed", false)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer p.Stop()
	out := filepath.Join(binDir, "step.json")
	_ = os.Remove(out)
	cpu0, err := p.cpuTime()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	args := []string{"-url", "http://" + p.addr + "/api/v1/price", "-rate", strconv.FormatFloat(rate, 'f', 0, 64),
		"-users", strconv.Itoa(users), "-duration", (step + ladderWarmup).String(), "-warmup", ladderWarmup.String(),
		"-quiet", "-json", out, "-engine", *ladderEng}
	if *ladderEng == "epoll" {
		args = append(args, "-tick", ladderTick.String())
	}
	cmd := benchproc.Pinned(ctx, cfg.clientCPU, filepath.Join(binDir, "loadtest"), args...)
	began := time.Now()
	log, err := cmd.CombinedOutput()
	if ps := cmd.ProcessState; ps != nil {
		r.GenCore = (ps.UserTime() + ps.SystemTime()).Seconds() / time.Since(began).Seconds()
	}
	if err != nil && len(log) > 0 && !strings.Contains(string(log), "SLO") {
		// loadtest exits non-zero only for an unmet -slo (none given
		// here) or a failure to run.
		if _, statErr := os.Stat(out); statErr != nil {
			r.Err = fmt.Sprintf("loadtest: %v: %s", err, benchproc.TrimLog(string(log)))
			return r
		}
	}
	cpu1, err := p.cpuTime()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	b, err := os.ReadFile(out)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	var lr loadtestReport
	if err := json.Unmarshal(b, &lr); err != nil {
		r.Err = fmt.Sprintf("cannot read loadtest report: %v", err)
		return r
	}
	r.Achieved, r.Failures, r.Requests = lr.Throughput, lr.Failures, lr.Requests
	r.P50Ms, r.P95Ms, r.P99Ms = lr.Latency.P50, lr.Latency.P95, lr.Latency.P99
	if lr.Requests > 0 {
		// The CPU covers the warm-up too: count its requests.
		total := float64(lr.Requests) * float64(step+ladderWarmup) / float64(step)
		r.CPUus = float64((cpu1 - cpu0).Microseconds()) / total
	}
	r.Held = lr.Requests > 0 && lr.Failures == 0 && r.P95Ms < float64(ladderP95.Milliseconds())
	return r
}

func parseRates(s string) ([]float64, error) {
	var rates []float64
	for _, f := range textarg.SplitList(s) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || (len(rates) > 0 && v <= rates[len(rates)-1]) {
			return nil, fmt.Errorf("bad --ladder-rates %q: want positive rates, ascending", s)
		}
		rates = append(rates, v)
	}
	if len(rates) == 0 {
		return nil, errors.New("--ladder-rates is empty")
	}
	return rates, nil
}

// ladderMarkdown renders the ladder: each server's largest rate held and
// its CPU per request there, the ratio to fasthttp, and every step.
func ladderMarkdown(servs []server, rates []float64, res map[string][]ladderStepResult, step time.Duration, users int, cfg *config) string {
	var b strings.Builder
	gen := "bin/loadtest --engine " + *ladderEng
	if *ladderEng == "epoll" {
		gen += " --tick " + ladderTick.String()
	}
	fmt.Fprintf(&b, "Seed-profile rate ladder (`bench/run.sh --seed-ladder`, %s): open loop (`%s`), %d connections, %s per step after 2 s of warm-up, server on CPU %q, load on CPU %q; a step holds with P95 < 150 ms and 0 failures.\n\n",
		time.Now().UTC().Format("2006-01-02"), gen, users, step, cfg.serverCPU, cfg.clientCPU)
	best := make(map[string]ladderStepResult)
	for _, sv := range servs {
		for _, r := range res[sv.key] {
			if r.Held {
				best[sv.key] = r
			}
		}
	}
	b.WriteString("| server | largest rate held (req/s) | P95 there (ms) | CPU per request there (us) | vs fasthttp |\n|---|---|---|---|---|\n")
	fh := best["fasthttp"].Rate
	for _, sv := range servs {
		r, ok := best[sv.key]
		if !ok {
			fmt.Fprintf(&b, "| %s | none of the ladder | | | |\n", sv.name)
			continue
		}
		ratio := ""
		if fh > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Rate/fh)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f | %s |\n", sv.name, r.Rate, r.P95Ms, r.CPUus, ratio)
	}
	b.WriteString("\nEvery step (achieved req/s, P95 ms, failures, server CPU us/request, load generator's share of its core):\n\n| rate |")
	for _, sv := range servs {
		b.WriteString(" " + sv.key + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(servs)) + "\n")
	for i, rate := range rates {
		fmt.Fprintf(&b, "| %.0f |", rate)
		for _, sv := range servs {
			rs := res[sv.key]
			if i >= len(rs) {
				b.WriteString(" |")
				continue
			}
			r := rs[i]
			mark := ""
			if !r.Held {
				mark = " (missed)"
			}
			fmt.Fprintf(&b, " %.0f, %.1f, %d, %.1f, gen %.0f%%%s |", r.Achieved, r.P95Ms, r.Failures, r.CPUus, 100*r.GenCore, mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// spliceBetween replaces the text between the markers in the file at path
// (appending the marked section if the markers are missing).
func spliceBetween(path, begin, end, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	block := begin + "\n" + body + "\n" + end
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	} else {
		s = s[:i] + block + s[j+len(end):]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
