package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Markers of the generated section in the benchmarks document.
const (
	beginMarker = "<!-- bench:results:begin -->"
	endMarker   = "<!-- bench:results:end -->"
)

// ioFloorMs is the P95 of max(U[10,50], U[20,40]) in ms, the lower bound
// of the seed profile's P95 (see seedFloor).
var ioFloorMs = seedFloor(0.95)

// seedFloor returns the q-quantile in ms of max(A, B), A ~ U[10,50] ms
// and B ~ U[20,40] ms independent: the latency of the two concurrent seed
// lookups with zero overhead. Its CDF is F_A(t) * F_B(t); solved by
// bisection.
func seedFloor(q float64) float64 {
	u := func(t, lo, hi float64) float64 { return math.Min(1, math.Max(0, (t-lo)/(hi-lo))) }
	lo, hi := 0.0, 50.0
	for range 100 {
		mid := (lo + hi) / 2
		if u(mid, 10, 50)*u(mid, 20, 40) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// Summary is the median of one scenario on one server over the rounds.
type Summary struct {
	Scenario     string    `json:"scenario"`
	Server       string    `json:"server"`
	Rounds       int       `json:"rounds"`
	RPS          float64   `json:"rps,omitempty"`
	RPSAll       []float64 `json:"rps_rounds,omitempty"`
	P50ms        float64   `json:"p50_ms,omitempty"`
	P95ms        float64   `json:"p95_ms,omitempty"`
	P99ms        float64   `json:"p99_ms,omitempty"`
	Errors       int64     `json:"errors"`
	AllocsPerReq float64   `json:"allocs_per_req,omitempty"`
	CPUPerReqUS  float64   `json:"cpu_us_per_req,omitempty"`
	CPUUtil      float64   `json:"cpu_util,omitempty"`
	OpenConns    int       `json:"open_conns,omitempty"`
	BytesPerCon  float64   `json:"bytes_per_conn,omitempty"`
	Failed       int       `json:"failed_rounds,omitempty"`
}

// Report is everything one run produced.
type Report struct {
	Started   time.Time  `json:"started"`
	Elapsed   string     `json:"elapsed"`
	Machine   Machine    `json:"machine"`
	Rounds    int        `json:"rounds"`
	Duration  string     `json:"cell_duration"`
	Warmup    string     `json:"warmup"`
	Smoke     bool       `json:"smoke"`
	ServerCPU string     `json:"server_cpu"`
	ClientCPU string     `json:"client_cpu"`
	IOFloorMs float64    `json:"io_floor_p95_ms"`
	Cells     []Cell     `json:"cells"`
	Summaries []Summary  `json:"summaries"`
	scenarios []scenario // in run order
	servers   []server
}

// Machine describes where the run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Commit     string `json:"commit"`
	LoadBefore string `json:"loadavg_before"`
	LoadAfter  string `json:"loadavg_after"`
	Wrk        string `json:"wrk"`
}

func newReport(cfg *config, scens []scenario, servs []server) *Report {
	r := &Report{
		Started: time.Now().UTC(), Rounds: cfg.rounds, Duration: cfg.duration.String(), Warmup: cfg.warmup.String(),
		Smoke: cfg.smoke, ServerCPU: cfg.serverCPU, ClientCPU: cfg.clientCPU, IOFloorMs: ioFloorMs,
		scenarios: scens, servers: servs,
	}
	r.Machine = Machine{
		CPU: cpuModel(), CPUs: runtime.NumCPU(), Kernel: firstLine(readFile("/proc/sys/kernel/osrelease")),
		Go: runtime.Version(), Commit: commit(cfg.repo), LoadBefore: loadAvg(), Wrk: wrkVersion(cfg.wrk),
	}
	return r
}

// finish computes the medians.
func (r *Report) finish(elapsed time.Duration) {
	r.Elapsed = elapsed.Round(time.Second).String()
	r.Machine.LoadAfter = loadAvg()
	r.summarize()
}

// finishAt recomputes the medians of a report read back from JSON.
func (r *Report) finishAt() error {
	if len(r.scenarios) == 0 || len(r.servers) == 0 {
		return errors.New("the report has no cells")
	}
	r.summarize()
	return nil
}

func (r *Report) summarize() {
	r.Summaries = r.Summaries[:0]
	for _, sc := range r.scenarios {
		for _, sv := range r.servers {
			var cells []Cell
			s := Summary{Scenario: sc.key, Server: sv.key}
			for _, c := range r.Cells {
				if c.Scenario != sc.key || c.Server != sv.key {
					continue
				}
				if c.Err != "" {
					s.Failed++
					continue
				}
				cells = append(cells, c)
			}
			if len(cells) == 0 && s.Failed == 0 {
				continue // not run (the limit has no seed profile)
			}
			s.Rounds = len(cells)
			pick := func(f func(Cell) float64) float64 {
				v := make([]float64, 0, len(cells))
				for _, c := range cells {
					v = append(v, f(c))
				}
				return median(v)
			}
			for _, c := range cells {
				s.RPSAll = append(s.RPSAll, math.Round(c.RPS))
				s.Errors += c.Errors
			}
			s.RPS = pick(func(c Cell) float64 { return c.RPS })
			s.P50ms = pick(func(c Cell) float64 { return c.P50ms })
			s.P95ms = pick(func(c Cell) float64 { return c.P95ms })
			s.P99ms = pick(func(c Cell) float64 { return c.P99ms })
			s.AllocsPerReq = pick(func(c Cell) float64 { return c.AllocsPerReq })
			s.CPUPerReqUS = pick(func(c Cell) float64 { return c.CPUPerReqUS })
			s.CPUUtil = pick(func(c Cell) float64 { return c.CPUUtil })
			s.OpenConns = int(pick(func(c Cell) float64 { return float64(c.OpenConns) }))
			s.BytesPerCon = pick(func(c Cell) float64 { return c.BytesPerCon })
			r.Summaries = append(r.Summaries, s)
		}
	}
}

// median of v; 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	} else {
		return (v[n/2-1] + v[n/2]) / 2
	}
}

func (r *Report) get(scen, serv string) (Summary, bool) {
	for _, s := range r.Summaries {
		if s.Scenario == scen && s.Server == serv && s.Rounds > 0 {
			return s, true
		}
	}
	return Summary{}, false
}

// pairedRatio is the median over rounds of a's req/s divided by b's in
// the same round, or 0 when no round has both. The cells of one round run
// back to back, so each ratio compares the servers on the same machine
// state; the ratio of the medians would not, on a VM whose speed changes
// between rounds.
func (r *Report) pairedRatio(scen, a, b string) float64 {
	rps := func(serv string) map[int]float64 {
		m := make(map[int]float64)
		for _, c := range r.Cells {
			if c.Scenario == scen && c.Server == serv && c.Err == "" && c.RPS > 0 {
				m[c.Round] = c.RPS
			}
		}
		return m
	}
	as, bs := rps(a), rps(b)
	var v []float64
	for round, x := range as {
		if y, ok := bs[round]; ok {
			v = append(v, x/y)
		}
	}
	return median(v)
}

// ratio formats a ratio, or "–" for none.
func ratio(x float64) string {
	if x <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", x)
}

// markdown renders the results section.
func (r *Report) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Run of %s UTC, commit `%s`, %s; %d round(s) of %s per cell (warm-up %s), medians over rounds; took %s.\n\n",
		r.Started.Format("2006-01-02 15:04"), m.Commit, m.Go, r.Rounds, r.Duration, r.Warmup, r.Elapsed)
	fmt.Fprintf(&b, "Machine: %s, %d CPUs, Linux %s; servers on CPU %s, load generator (%s) on CPU %s. Load average (1, 5, 15 min) before: %s, after: %s.\n\n",
		m.CPU, m.CPUs, m.Kernel, orAll(r.ServerCPU), m.Wrk, orAll(r.ClientCPU), m.LoadBefore, m.LoadAfter)

	b.WriteString("| scenario | server | req/s | x limit | x fasthttp | P50 ms | P95 ms | P99 ms | P95 / floor | errors | server CPU | CPU µs/req | req/s per round |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, sc := range r.scenarios {
		if sc.idle {
			continue
		}
		for _, sv := range r.servers {
			s, ok := r.get(sc.key, sv.key)
			if !ok {
				if f := r.failed(sc.key, sv.key); f > 0 {
					fmt.Fprintf(&b, "| %s | %s | failed (%d rounds) | | | | | | | | | | |\n", sc.key, sv.name, f)
				}
				continue
			}
			floor := "–"
			if sc.latency == "seed" {
				floor = fmt.Sprintf("%.2f", s.P95ms/ioFloorMs)
			}
			cpu, perReq := "–", "–"
			if s.CPUPerReqUS > 0 {
				cpu, perReq = fmt.Sprintf("%.0f%%", 100*s.CPUUtil), fmt.Sprintf("%.2f", s.CPUPerReqUS)
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %.2f | %.2f | %.2f | %s | %d | %s | %s | %s |\n",
				sc.key, sv.name, s.RPS, ratio(r.pairedRatio(sc.key, sv.key, "gnetraw")),
				ratio(r.pairedRatio(sc.key, sv.key, "fasthttp")), s.P50ms, s.P95ms, s.P99ms, floor, s.Errors, cpu, perReq, joinFloats(s.RPSAll))
		}
	}
	b.WriteString("\n")
	r.batchTable(&b) // scenarios_batch.go
	for _, sc := range r.scenarios {
		if !sc.idle {
			continue
		}
		b.WriteString("| idle connections | server | open | RSS per connection | bytes per connection |\n|---|---|--:|--:|--:|\n")
		for _, sv := range r.servers {
			if s, ok := r.get(sc.key, sv.key); ok {
				fmt.Fprintf(&b, "| %s | %s | %d | %.2f KiB | %.0f |\n", sc.key, sv.name, s.OpenConns, s.BytesPerCon/1024, s.BytesPerCon)
			} else if f := r.failed(sc.key, sv.key); f > 0 {
				fmt.Fprintf(&b, "| %s | %s | failed (%d rounds) | | |\n", sc.key, sv.name, f)
			}
		}
		b.WriteString("\n")
	}
	if t := r.targets(); len(t) > 0 {
		b.WriteString("| target | measured | met |\n|---|---|---|\n")
		for _, t := range t {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", t.what, t.measured, yesNo(t.met))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Scenario keys: %s. The floor is the P95 of max(U[10,50], U[20,40]) ms = %.1f ms. Errors are wrk's socket errors plus non-2xx replies, summed over rounds. Server CPU is the server's user + system CPU time over the measured run as a share of one CPU, and CPU µs/req that time per request (from /proc/PID/stat, 10 ms resolution): a server below 100%% was not the bottleneck. Pipelined latencies are wrk's, one sample per batch of 16 (its percentiles can read 0). req/s and latencies are medians over rounds; the x columns are medians of per-round ratios (the cells of a round run back to back, so each ratio is taken on one machine state).\n", r.scenarioLegend(), ioFloorMs)
	return b.String()
}

func (r *Report) scenarioLegend() string {
	var parts []string
	for _, sc := range r.scenarios {
		parts = append(parts, fmt.Sprintf("`%s` %s (%d connections)", sc.key, sc.title, sc.conns))
	}
	return strings.Join(parts, "; ")
}

func (r *Report) failed(scen, serv string) int {
	n := 0
	for _, c := range r.Cells {
		if c.Scenario == scen && c.Server == serv && c.Err != "" {
			n++
		}
	}
	return n
}

type target struct {
	what     string
	measured string
	met      bool
}

// targets checks the goals of the benchmark issue: throughput goals on
// the paired per-round ratios, latency and memory goals on the medians.
func (r *Report) targets() []target {
	var out []target
	ours := "pricing-engine"
	vs := func(what, scen, peer string, min float64, strict bool) {
		x := r.pairedRatio(scen, ours, peer)
		if x == 0 {
			return
		}
		met := x >= min
		if strict {
			met = x > min
		}
		out = append(out, target{what, ratio(x), met})
	}
	if s, ok := r.get(scMem100, ours); ok {
		vs("in memory c=100: >= 0.85x the limit", scMem100, "gnetraw", 0.85, false)
		vs("in memory c=100: ahead of fasthttp", scMem100, "fasthttp", 1, true)
		// One allocation on the request path would show as >= 1; what
		// remains below 0.1 is background work (ticker, GC, the scrapes).
		out = append(out, target{"0 allocations per request (in memory c=100, end to end; < 0.1 counts as 0)", fmt.Sprintf("%.3f allocs/req", s.AllocsPerReq), s.AllocsPerReq < 0.1})
	}
	vs("pipelined 16: >= 0.6x the limit", scPipe16, "gnetraw", 0.6, false)
	vs("pipelined 16: >= 2x fasthttp", scPipe16, "fasthttp", 2, false)
	if s, ok := r.get(scSeed1k, ours); ok {
		out = append(out, target{"seed c=1000: P95 <= 1.1x the floor", fmt.Sprintf("%.2f ms = %.2fx", s.P95ms, s.P95ms/ioFloorMs), s.P95ms <= 1.1*ioFloorMs})
	}
	if s, ok := r.get(scSeed5k, ours); ok {
		vs("seed c=5000: >= 1.5x fasthttp req/s", scSeed5k, "fasthttp", 1.5, false)
		out = append(out, target{"seed c=5000: P95 <= 2x the floor", fmt.Sprintf("%.2f ms = %.2fx", s.P95ms, s.P95ms/ioFloorMs), s.P95ms <= 2*ioFloorMs})
	}
	if s, ok := r.get(scIdle, ours); ok {
		out = append(out, target{"idle connections: <= 4 KiB RSS each", fmt.Sprintf("%.2f KiB (%d connections)", s.BytesPerCon/1024, s.OpenConns), s.BytesPerCon <= 4096})
	}
	return out
}

// smokeCheck asserts that every server answered in every scenario it ran.
func (r *Report) smokeCheck() error {
	var errs []error
	for _, c := range r.Cells {
		switch {
		case c.Err != "":
			errs = append(errs, fmt.Errorf("%s on %s: %s", c.Scenario, c.Server, c.Err))
		case c.OpenConns == 0 && c.Requests == 0:
			errs = append(errs, fmt.Errorf("%s on %s: no request answered", c.Scenario, c.Server))
		}
	}
	if len(r.Summaries) == 0 {
		errs = append(errs, errors.New("no results"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("smoke check failed:\n%w", err)
	}
	logf("smoke check passed: %d cells", len(r.Cells))
	return nil
}

// readReport loads a report written by writeJSON, for rendering again.
func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", path, err)
	}
	seen := map[string]int{}
	for _, c := range r.Cells {
		seen[c.Scenario] = c.Conns
		seen["server:"+c.Server] = 1
	}
	for _, sc := range allScenarios {
		if n, ok := seen[sc.key]; ok {
			sc.conns = n
			r.scenarios = append(r.scenarios, sc)
		}
	}
	for _, sv := range allServers {
		if _, ok := seen["server:"+sv.key]; ok {
			r.servers = append(r.servers, sv)
		}
	}
	return &r, nil
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// spliceDoc replaces what lies between the markers in the file at path.
func spliceDoc(path, section string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := splice(doc, section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

func splice(doc []byte, section string) ([]byte, error) {
	i := bytes.Index(doc, []byte(beginMarker))
	j := bytes.Index(doc, []byte(endMarker))
	if i < 0 || j < i {
		return nil, fmt.Errorf("cannot find %s ... %s", beginMarker, endMarker)
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(beginMarker)])
	b.WriteString("\n")
	b.WriteString(strings.TrimSpace(section))
	b.WriteString("\n")
	b.Write(doc[j:])
	return b.Bytes(), nil
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf("%.0f", f)
	}
	return strings.Join(s, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func orAll(cpu string) string {
	if cpu == "" {
		return "any"
	}
	return cpu
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func commit(repo string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func wrkVersion(wrk string) string {
	out, _ := exec.Command(wrk, "--version").CombinedOutput()
	if f := strings.Fields(firstLine(string(out))); len(f) >= 2 {
		return "wrk " + f[1]
	}
	return "wrk"
}
