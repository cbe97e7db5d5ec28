package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

// scenario is one row group of the table.
type scenario struct {
	key     string
	title   string
	latency string   // lookup latency profile of the servers
	idle    bool     // the idle-connection memory test instead of wrk
	script  string   // wrk script in bench/wrk
	args    []string // script arguments (after "--")
	conns   int      // connections (full run)
	smokeC  int      // connections (smoke run)
	items   int      // batch scenario: items per request, to POST /api/v1/prices (pricing-engine only)
}

// Scenario keys.
const (
	scMem100  = "mem-c100"
	scMem1000 = "mem-c1000"
	scPipe16  = "pipe16"
	scSeed1k  = "seed-c1000"
	scSeed5k  = "seed-c5000"
	scNewConn = "new-conn"
	scIdle    = "idle"
	scBatch20 = "batch20"
)

var allScenarios = []scenario{
	{key: scMem100, title: "in memory, keep-alive", latency: "none", script: "post.lua", conns: 100, smokeC: 20},
	{key: scMem1000, title: "in memory, keep-alive", latency: "none", script: "post.lua", conns: 1000, smokeC: 100},
	{key: scPipe16, title: "in memory, pipelined 16 deep", latency: "none", script: "pipeline.lua", args: []string{"16"}, conns: 100, smokeC: 10},
	{key: scSeed1k, title: "seed profile, keep-alive", latency: "seed", script: "post.lua", conns: 1000, smokeC: 50},
	{key: scSeed5k, title: "seed profile, keep-alive", latency: "seed", script: "post.lua", conns: 5000, smokeC: 200},
	{key: scBatch20, title: "in memory, keep-alive, batches of 20 items (POST /api/v1/prices)", latency: "none", script: "batch.lua", args: []string{"20"}, conns: 100, smokeC: 20, items: 20},
	{key: scNewConn, title: "in memory, a new connection per request", latency: "none", script: "close.lua", conns: 100, smokeC: 10},
	{key: scIdle, title: "idle keep-alive connections (one request each), RSS per connection", latency: "none", idle: true, conns: 50_000, smokeC: 500},
}

func selectScenarios(cfg *config) []scenario {
	var out []scenario
	keep := textarg.SplitList(cfg.scenarios)
	for _, s := range allScenarios {
		if len(keep) > 0 && !slices.Contains(keep, s.key) {
			continue
		}
		if cfg.smoke {
			s.conns = s.smokeC
		} else if s.idle {
			s.conns = cfg.idleConns
		}
		if s.idle {
			s.conns = fitNoFile(s.conns)
		}
		out = append(out, s)
	}
	return out
}

// fitNoFile lowers n to what RLIMIT_NOFILE allows a process (the server
// and the client each hold n descriptors), leaving room for the rest.
func fitNoFile(n int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return n
	}
	max := int(min(lim.Max, math.MaxInt32)) - 1000
	if n > max {
		logf("idle: RLIMIT_NOFILE hard limit is %d: %d connections instead of %d", lim.Max, max, n)
		return max
	}
	return n
}

// Cell is the result of one scenario on one server in one round.
type Cell struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	Round    int    `json:"round"`
	Conns    int    `json:"conns"`

	Requests int64   `json:"requests,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	RPS      float64 `json:"rps,omitempty"`
	P50ms    float64 `json:"p50_ms,omitempty"`
	P90ms    float64 `json:"p90_ms,omitempty"`
	P95ms    float64 `json:"p95_ms,omitempty"`
	P99ms    float64 `json:"p99_ms,omitempty"`
	MaxMs    float64 `json:"max_ms,omitempty"`
	// Errors counts socket errors (connect, read, write, timeout) and
	// non-2xx replies as wrk reports them.
	Errors int64 `json:"errors"`
	// ItemsPerSec is RPS times the items per request (batch scenario).
	ItemsPerSec float64 `json:"items_per_s,omitempty"`
	// CPUPerReqUS is the server's CPU time (user + system) per request in
	// microseconds, and CPUUtil the share of one CPU it used, over the
	// measured run: they stay meaningful when the load generator, not the
	// server, limits the request rate.
	CPUPerReqUS float64 `json:"cpu_us_per_req,omitempty"`
	CPUUtil     float64 `json:"cpu_util,omitempty"`
	// AllocsPerReq is pricing-engine's heap allocations per request over
	// the measured run (go_memstats_mallocs_total), -1 if not measured.
	AllocsPerReq float64 `json:"allocs_per_req,omitempty"`

	RSSBefore   int64   `json:"rss_before_bytes,omitempty"`
	RSSAfter    int64   `json:"rss_after_bytes,omitempty"`
	OpenConns   int     `json:"open_conns,omitempty"`
	BytesPerCon float64 `json:"bytes_per_conn,omitempty"`

	Err string `json:"error,omitempty"`
}

func (c *Cell) summary() string {
	if c.OpenConns > 0 {
		return fmt.Sprintf("%d conns, %.0f bytes/conn (RSS %.1f -> %.1f MiB)", c.OpenConns, c.BytesPerCon, mib(c.RSSBefore), mib(c.RSSAfter))
	}
	s := fmt.Sprintf("%9.0f req/s  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  errors %d  cpu %3.0f%% %6.2f us/req",
		c.RPS, c.P50ms, c.P95ms, c.P99ms, c.Errors, 100*c.CPUUtil, c.CPUPerReqUS)
	if c.AllocsPerReq > 0 || c.Scenario == scMem100 && c.Server == "pricing-engine" {
		s += fmt.Sprintf("  allocs/req %.3f", c.AllocsPerReq)
	}
	return s
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// runner runs cells.
type runner struct {
	cfg    *config
	binDir string
	wrkDir string
	round  int
}

func (r *runner) runCell(ctx context.Context, sc scenario, sv server) (Cell, error) {
	cell := Cell{Scenario: sc.key, Server: sv.key, Round: r.round, Conns: sc.conns}
	p, err := startServer(ctx, r.binDir, r.cfg.serverCPU, sv, sc.latency, sc.idle)
	if err != nil {
		return cell, err
	}
	defer p.Stop()
	if sc.idle {
		return cell, r.idle(ctx, p, sc, &cell)
	}
	if sc.items > 0 {
		if err := p.checkBatch(sc.items); err != nil {
			return cell, err
		}
	}
	if r.cfg.warmup > 0 {
		if _, err := r.wrk(ctx, p, sc, r.cfg.warmup); err != nil {
			return cell, fmt.Errorf("warm-up: %w", err)
		}
	}
	var before, scrape float64
	measureAllocs := sv.ours && sc.latency == "none"
	if measureAllocs {
		// Two scrapes: the second minus the first is the cost of one
		// scrape, taken off the total below.
		b0, err0 := p.mallocs()
		b1, err1 := p.mallocs()
		if err := errors.Join(err0, err1); err != nil {
			return cell, fmt.Errorf("cannot read allocations: %w", err)
		}
		before, scrape = b1, b1-b0
	}
	profDone := make(chan error, 1)
	if sv.ours && r.cfg.pprofDir != "" && r.round == 1 {
		secs := max(1, int(r.cfg.duration/time.Second)-1)
		go func() {
			profDone <- p.profile("profile", "seconds="+strconv.Itoa(secs), filepath.Join(r.cfg.pprofDir, sc.key+".cpu.pprof"))
		}()
	} else {
		profDone <- nil
	}
	cpu0, err := p.cpuTime()
	if err != nil {
		return cell, err
	}
	res, err := r.wrk(ctx, p, sc, r.cfg.duration)
	cpu1, cerr := p.cpuTime()
	if perr := <-profDone; perr != nil {
		logf("profile of %s: %v", sc.key, perr)
	}
	if err != nil {
		return cell, err
	}
	res.fill(&cell)
	cell.ItemsPerSec = cell.RPS * float64(sc.items)
	if cerr == nil && cell.Requests > 0 && cell.Seconds > 0 {
		used := (cpu1 - cpu0).Seconds()
		cell.CPUPerReqUS = used * 1e6 / float64(cell.Requests)
		cell.CPUUtil = used / cell.Seconds
	}
	if measureAllocs && cell.Requests > 0 {
		after, err := p.mallocs()
		if err != nil {
			return cell, fmt.Errorf("cannot read allocations: %w", err)
		}
		cell.AllocsPerReq = math.Max(0, after-before-scrape) / float64(cell.Requests)
		if r.cfg.pprofDir != "" && r.round == 1 {
			if err := p.profile("allocs", "", filepath.Join(r.cfg.pprofDir, sc.key+".allocs.pprof")); err != nil {
				logf("allocation profile of %s: %v", sc.key, err)
			}
		}
	}
	return cell, nil
}

// wrkResult is the line bench/wrk/*.lua print in done().
type wrkResult struct {
	Requests      int64   `json:"requests"`
	DurationUS    int64   `json:"duration_us"`
	ConnectErrors int64   `json:"connect_errors"`
	ReadErrors    int64   `json:"read_errors"`
	WriteErrors   int64   `json:"write_errors"`
	StatusErrors  int64   `json:"status_errors"`
	Timeouts      int64   `json:"timeouts"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P95us         float64 `json:"p95_us"`
	P99us         float64 `json:"p99_us"`
	MaxUS         float64 `json:"max_us"`
}

func (w *wrkResult) fill(c *Cell) {
	c.Requests = w.Requests
	c.Seconds = float64(w.DurationUS) / 1e6
	if c.Seconds > 0 {
		c.RPS = float64(w.Requests) / c.Seconds
	}
	c.P50ms, c.P90ms, c.P95ms, c.P99ms, c.MaxMs = w.P50us/1e3, w.P90us/1e3, w.P95us/1e3, w.P99us/1e3, w.MaxUS/1e3
	c.Errors = w.ConnectErrors + w.ReadErrors + w.WriteErrors + w.StatusErrors + w.Timeouts
}

const wrkMarker = "BENCHJSON "

// parseWrk finds the result line in wrk's output.
func parseWrk(out []byte) (*wrkResult, error) {
	for _, line := range bytes.Split(out, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte(wrkMarker)); ok {
			var w wrkResult
			if err := json.Unmarshal(rest, &w); err != nil {
				return nil, fmt.Errorf("cannot parse wrk result %q: %w", rest, err)
			}
			return &w, nil
		}
	}
	return nil, fmt.Errorf("no %q line in wrk output: %q", strings.TrimSpace(wrkMarker), benchproc.TrimLog(string(out)))
}

func (r *runner) wrk(ctx context.Context, p *process, sc scenario, d time.Duration) (*wrkResult, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(sc.conns), "-d" + strconv.Itoa(int(d/time.Second)) + "s",
		"--timeout", "10s", "-s", filepath.Join(r.wrkDir, sc.script), "http://" + p.addr + sc.path()}
	if len(sc.args) > 0 {
		args = append(append(args, "--"), sc.args...)
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := benchproc.Pinned(ctx, r.cfg.clientCPU, r.cfg.wrk, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, benchproc.TrimLog(string(out)))
	}
	return parseWrk(out)
}

// idle opens sc.conns keep-alive connections with bench/cmd/idleconns and
// measures the server's RSS before and after.
func (r *runner) idle(ctx context.Context, p *process, sc scenario, cell *Cell) error {
	time.Sleep(200 * time.Millisecond)
	before, err := p.rssBytes()
	if err != nil {
		return err
	}
	sources := sc.conns/10_000 + 1
	cmd := benchproc.Pinned(ctx, r.cfg.clientCPU, filepath.Join(r.binDir, "idleconns"),
		"--addr", p.addr, "--conns", strconv.Itoa(sc.conns), "--sources", strconv.Itoa(sources), "--hold", "2m")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(2 * time.Minute):
		return errors.New("idleconns did not report within 2m")
	case <-ctx.Done():
		return ctx.Err()
	}
	var open, failed int
	if _, err := fmt.Sscanf(line, "ready %d %d", &open, &failed); err != nil {
		return fmt.Errorf("idleconns said %q (%v): %s", line, err, benchproc.TrimLog(stderr.String()))
	}
	time.Sleep(time.Second) // let the server settle
	after, err := p.rssBytes()
	if err != nil {
		return err
	}
	cell.RSSBefore, cell.RSSAfter, cell.OpenConns = before, after, open
	if open > 0 {
		cell.BytesPerCon = float64(after-before) / float64(open)
	}
	if failed > 0 {
		cell.Errors = int64(failed)
		return fmt.Errorf("%d of %d connections failed: %s", failed, sc.conns, benchproc.TrimLog(stderr.String()))
	}
	return nil
}
