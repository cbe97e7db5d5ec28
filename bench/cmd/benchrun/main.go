// Command benchrun runs the side-by-side benchmarks of pricing-engine
// against reference servers written with net/http, fasthttp and raw gnet
// (the limit of the design), and writes a table, a JSON report and a
// chart. `make bench` runs it through bench/run.sh; `make bench-smoke`
// runs a few seconds of every path (BENCH_SMOKE=1).
//
// Method: every binary is built into a temporary directory; for each
// round, each scenario and each server in turn (A B C D, A B C D, ...)
// a fresh server process is started pinned to --server-cpu, warmed up,
// and loaded by wrk (or bench/cmd/idleconns) pinned to --client-cpu.
// Results are the medians over the rounds.
//
//	go run ./bench/cmd/benchrun --rounds 3 --duration 5s --doc docs/BENCHMARKS.md --chart docs/bench.png
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	rounds     int
	duration   time.Duration
	warmup     time.Duration
	smoke      bool
	serverCPU  string
	clientCPU  string
	idleConns  int
	outJSON    string
	outMD      string
	doc        string
	chart      string
	pprofDir   string
	scenarios  string
	servers    string
	wrk        string
	repo       string
	keepBinDir bool
	fromJSON   string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; every round runs every scenario on every server")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured length of one cell (one scenario on one server)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured load before each measured cell (0: none)")
	flag.BoolVar(&cfg.smoke, "smoke", false, "harness check: 1 round of 1 s cells at small connection counts, no warm-up; asserts every server answered")
	flag.StringVar(&cfg.serverCPU, "server-cpu", "0", "taskset CPU list for the servers (empty: no pinning)")
	flag.StringVar(&cfg.clientCPU, "client-cpu", "1", "taskset CPU list for the load generator (empty: no pinning)")
	flag.IntVar(&cfg.idleConns, "idle-conns", 50_000, "idle keep-alive connections (lowered to fit RLIMIT_NOFILE)")
	flag.StringVar(&cfg.outJSON, "json", "", "write the results as JSON to this file")
	flag.StringVar(&cfg.outMD, "md", "", "write the results as Markdown to this file")
	flag.StringVar(&cfg.doc, "doc", "", "replace the results section of this Markdown file (between "+beginMarker+" and "+endMarker+")")
	flag.StringVar(&cfg.chart, "chart", "", "write the chart as PNG to this file")
	flag.StringVar(&cfg.pprofDir, "pprof", "", "write CPU and allocation profiles of pricing-engine (first round) into this directory")
	flag.StringVar(&cfg.scenarios, "scenarios", "", "comma-separated scenario keys to run (empty: all)")
	flag.StringVar(&cfg.servers, "servers", "", "comma-separated server keys to run (empty: all)")
	flag.StringVar(&cfg.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&cfg.repo, "repo", ".", "repository root (where go.mod is)")
	flag.BoolVar(&cfg.keepBinDir, "keep-bin", false, "keep the temporary directory with the built binaries")
	flag.StringVar(&cfg.fromJSON, "from-json", "", "run nothing: render the table, document and chart again from this JSON report")
	flag.Parse()
	if cfg.smoke {
		cfg.rounds = 1
		cfg.duration = time.Second
		cfg.warmup = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config) error {
	if *seedLadder {
		return runSeedLadder(ctx, cfg) // scenarios_seed.go
	}
	if cfg.fromJSON != "" {
		rep, err := readReport(cfg.fromJSON)
		if err != nil {
			return err
		}
		if err := rep.finishAt(); err != nil {
			return err
		}
		return rep.write(cfg)
	}
	if cfg.rounds < 1 || cfg.duration < time.Second {
		return errors.New("--rounds must be >= 1 and --duration >= 1s")
	}
	if _, err := lookPath(cfg.wrk); err != nil {
		return fmt.Errorf("cannot find wrk (%q): %w; install it (apt-get install wrk)", cfg.wrk, err)
	}
	if runtime.NumCPU() < 2 && (cfg.serverCPU != "" || cfg.clientCPU != "") {
		logf("only %d CPU: running without taskset pinning", runtime.NumCPU())
		cfg.serverCPU, cfg.clientCPU = "", ""
	}
	if cfg.serverCPU != "" || cfg.clientCPU != "" {
		if _, err := lookPath("taskset"); err != nil {
			logf("taskset not found: running without CPU pinning")
			cfg.serverCPU, cfg.clientCPU = "", ""
		}
	}
	scens := selectScenarios(cfg)
	servs := selectServers(cfg.servers)
	if len(scens) == 0 || len(servs) == 0 {
		return errors.New("no scenario or no server selected")
	}
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}

	binDir, err := os.MkdirTemp("", "benchrun-bin-")
	if err != nil {
		return err
	}
	if !cfg.keepBinDir {
		defer os.RemoveAll(binDir)
	}
	if err := build(ctx, cfg.repo, binDir, servs); err != nil {
		return err
	}
	wrkDir, err := filepath.Abs(filepath.Join(cfg.repo, "bench", "wrk"))
	if err != nil {
		return err
	}

	rep := newReport(cfg, scens, servs)
	start := time.Now()
	for round := 1; round <= cfg.rounds; round++ {
		for _, sc := range scens {
			for _, sv := range servs {
				if sv.noLatency && sc.latency != "none" || sc.items > 0 && !sv.ours {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				r := &runner{cfg: cfg, binDir: binDir, wrkDir: wrkDir, round: round}
				cell, err := r.runCell(ctx, sc, sv)
				if err != nil {
					cell.Err = err.Error()
					logf("round %d %-10s %-15s FAILED: %v", round, sc.key, sv.key, err)
				} else {
					logf("round %d %-10s %-15s %s", round, sc.key, sv.key, cell.summary())
				}
				rep.Cells = append(rep.Cells, cell)
			}
		}
	}
	rep.finish(time.Since(start))
	if err := rep.write(cfg); err != nil {
		return err
	}
	if cfg.smoke {
		return rep.smokeCheck()
	}
	return nil
}

// write renders the report to stdout and the files cfg names.
func (rep *Report) write(cfg *config) error {
	md := rep.markdown()
	fmt.Println(md)
	if cfg.outMD != "" {
		if err := os.WriteFile(cfg.outMD, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if cfg.outJSON != "" {
		if err := rep.writeJSON(cfg.outJSON); err != nil {
			return err
		}
	}
	if cfg.doc != "" {
		if err := spliceDoc(cfg.doc, md); err != nil {
			return err
		}
	}
	if cfg.chart != "" {
		if err := writeChart(rep, cfg.chart); err != nil {
			return err
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
