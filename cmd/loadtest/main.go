// Command loadtest drives HTTP/1.1 load at the pricing API and prints a
// pass or fail verdict against a service-level objective.
//
// Closed loop, the classic acceptance workload (10,000 users thinking
// 0.5-2 s between requests for 60 s, P95 under 150 ms and no failure):
//
//	loadtest --url http://127.0.0.1:8000/api/v1/price --users 10000 \
//	    --think 0.5s-2s --duration 60s --slo 'p95<150ms,failures=0' \
//	    --json out.json --plot out.png
//
// Open loop at a constant arrival rate over 256 connections:
//
//	loadtest --rate 20000 --users 256 --duration 30s --slo 'p99<50ms'
//
// The same from one thread with non-blocking sockets and one epoll
// instance, for rates a goroutine per connection cannot keep up with:
//
//	loadtest --engine epoll --tick 500us --rate 50000 --users 4000 --duration 30s
//
// Batches of 20 items (POST /api/v1/prices), every item checked; the
// summary adds items per second:
//
//	loadtest --batch 20 --users 100 --think 0 --duration 30s
//
// The exit code is 0 when the run passed its SLO (or had none), 1 when it
// failed it and 2 for a usage or configuration error. Targets that are not
// loopback addresses are refused unless --allow-remote is given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/pricing-engine/pricing-engine/loadtest"
	"github.com/pricing-engine/pricing-engine/lookup"

	"github.com/pricing-engine/pricing-engine/internal/textarg"
)

// Exit codes.
const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the load test and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitUsage
	}
	if !opts.quiet && isTerminal(stderr) {
		cfg.Progress = stderr
	}
	if opts.cpuProfile != "" {
		stop, err := startProfile(opts.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return exitUsage
		}
		defer stop()
	}
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitUsage
	}
	code := exitPass
	if opts.slo != nil {
		res.Verdict = opts.slo.Evaluate(res)
		if !res.Verdict.Pass {
			code = exitFail
		}
	}
	if err := res.WriteSummary(stdout); err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
	}
	if opts.jsonPath != "" {
		if err := res.WriteJSON(opts.jsonPath); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return exitUsage
		}
	}
	if opts.plotPath != "" {
		if err := loadtest.WritePlot(res, opts.plotPath); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return exitUsage
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "loadtest: interrupted; the result covers the run so far")
	}
	return code
}

// options are the flags that are not part of loadtest.Config.
type options struct {
	slo        loadtest.SLO
	jsonPath   string
	plotPath   string
	quiet      bool
	cpuProfile string
}

func parseFlags(args []string, stderr io.Writer) (loadtest.Config, options, error) {
	cfg := loadtest.DefaultConfig()
	var opts options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", cfg.URL, "target `URL` (http only)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "permit targets that are not loopback addresses")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "virtual users (closed loop) or connections (open loop)")
	think := fs.String("think", "0.5s-2s", "closed-loop think time: `MIN-MAX` uniform, a single duration, or 0")
	fs.DurationVar(&cfg.Ramp, "ramp", -1, "spread the users' first requests over this long (negative: the maximum think time)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: total arrival rate in requests per second (0: closed loop)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "run length; no request starts after it")
	fs.Int64Var(&cfg.MaxRequests, "max-requests", 0, "stop after this many requests (0: no limit)")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "leave out requests completing in the first part of the run")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "bound on each exchange (connect, write, read)")
	fs.IntVar(&cfg.Pipeline, "pipeline", 1, "requests written back to back per connection before reading")
	fs.BoolVar(&cfg.NewConn, "new-conn", false, "open a new connection for every request (or pipelined batch)")
	fs.DurationVar(&cfg.Tick, "tick", cfg.Tick, "epoll engine: while requests are in flight, wake once a tick instead of once an event (0: every event; sends and reply times may be up to a tick late)")
	fs.StringVar(&cfg.Engine, "engine", loadtest.EngineGoroutine, "open-loop engine: goroutine (a goroutine per connection) or epoll (one thread, non-blocking sockets; --rate and --pipeline 1 only)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	products := fs.String("products", "100-999", "product number range `MIN-MAX`")
	fs.StringVar(&cfg.Workload.ProductPrefix, "product-prefix", cfg.Workload.ProductPrefix, "product id prefix")
	locations := fs.String("locations", "NY,LA,MIA", "comma-separated market codes")
	fs.Float64Var(&cfg.Workload.MemberRatio, "member-ratio", cfg.Workload.MemberRatio, "share of requests from members (0..1)")
	fs.StringVar(&cfg.Workload.BodyTemplate, "body-template", cfg.Workload.BodyTemplate, "request body with {product}, {location} and {member}")
	fs.StringVar(&cfg.Workload.ContentType, "content-type", cfg.Workload.ContentType, "request Content-Type")
	fs.IntVar(&cfg.Workload.Batch, "batch", 0, "batch workload: each request is a POST of `N` items (1..100) to /api/v1/prices (the default --url then); 0: single requests")
	fs.BoolVar(&cfg.Workload.Check, "check", true, "parse every 200 reply and check it against the request")
	fs.BoolVar(&cfg.Workload.Strict, "strict", true, "also check base price and multiplier against the data the server serves (--catalog, --markets)")
	catalogFile := fs.String("catalog", "", "catalog CSV `FILE` the server serves, for --strict (default: the data built into pricing-engine)")
	marketsFile := fs.String("markets", "", "markets CSV `FILE` the server serves, for --strict (default: the data built into pricing-engine)")
	sources := fs.String("sources", "live", "comma-separated accepted values of the reply's source field")
	bind := fs.String("bind", "", "comma-separated local IP addresses to connect from, round robin (e.g. 127.0.0.1,127.0.0.2 to pass 28k connections)")
	sloText := fs.String("slo", "", "objective, e.g. 'p95<150ms,failures=0'; sets the exit code")
	fs.StringVar(&opts.jsonPath, "json", "", "write the report as JSON to `FILE`")
	fs.StringVar(&opts.plotPath, "plot", "", "write latency plots as PNG to `FILE`")
	fs.BoolVar(&opts.quiet, "quiet", false, "no progress line, even on a terminal")
	fs.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the generator to `FILE`")
	fs.DurationVar(&cfg.ProgressInterval, "interval", time.Second, "sampling interval of the time series and progress line")
	if err := fs.Parse(args); err != nil {
		return cfg, opts, err
	}
	if fs.NArg() > 0 {
		return cfg, opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Workload.Batch > 0 && !flagSet(fs, "url") {
		cfg.URL = defaultBatchURL
	}
	var err error
	if cfg.ThinkMin, cfg.ThinkMax, err = textarg.ParseRange(*think, time.ParseDuration); err != nil {
		return cfg, opts, err
	}
	if cfg.Workload.ProductMin, cfg.Workload.ProductMax, err = textarg.ParseRange(*products, strconv.Atoi); err != nil {
		return cfg, opts, err
	}
	if *catalogFile != "" {
		if cfg.Workload.Catalog, err = lookup.LoadCatalogFile(*catalogFile); err != nil {
			return cfg, opts, err
		}
	}
	if *marketsFile != "" {
		if cfg.Workload.Markets, err = lookup.LoadMarketsFile(*marketsFile); err != nil {
			return cfg, opts, err
		}
	}
	cfg.Workload.Locations = textarg.SplitList(*locations)
	cfg.Workload.Sources = textarg.SplitList(*sources)
	for _, a := range textarg.SplitList(*bind) {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return cfg, opts, fmt.Errorf("cannot parse --bind address %q: %w", a, err)
		}
		cfg.SourceAddrs = append(cfg.SourceAddrs, ip)
	}
	if *sloText != "" {
		if opts.slo, err = loadtest.ParseSLO(*sloText); err != nil {
			return cfg, opts, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, opts, err
	}
	return cfg, opts, nil
}

// defaultBatchURL is the target of --batch without --url.
const defaultBatchURL = "http://127.0.0.1:8000/api/v1/prices"

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// startProfile starts a CPU profile into path and returns its stop.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
