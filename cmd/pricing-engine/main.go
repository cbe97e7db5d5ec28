// Command pricing-engine serves the dynamic pricing API: POST /api/v1/price
// on gnet event loops (default :8000) and the admin routes (/metrics,
// /healthz, /readyz, /docs, /openapi.json, and /debug/pprof/ when --pprof
// is given) on net/http (default :8001).
//
// Every flag has a PRICING_* environment variable (--lookup-latency is
// PRICING_LOOKUP_LATENCY); a flag given on the command line wins. Run with
// --help for the list and defaults.
//
// Subcommands:
//
//	pricing-engine healthcheck   exit 0 when the admin /healthz answers 200
//	pricing-engine import        load CSV files into the Redis store (docs/STORE.md)
//	pricing-engine version       print the version
//
// SIGINT and SIGTERM drain and stop the server (see package server); the
// process exits 0 when the drain finished before --shutdown-timeout.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
	"github.com/pricing-engine/pricing-engine/server"
)

// Stamped at release build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs explicit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck(args[1:], stderr)
		case "import":
			return runImport(args[1:], os.LookupEnv, stdout, stderr)
		case "version":
			fmt.Fprintf(stdout, "pricing-engine %s (%s)\n", version, revision)
			return 0
		}
	}
	cfg, err := parseConfig(args, os.LookupEnv, stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pricing-engine: %v\nRun 'pricing-engine --help' for the flags.\n", err)
		return 2
	}
	if err := cfg.rules.load(); err != nil {
		fmt.Fprintf(stderr, "pricing-engine: %v\n", err)
		return 2
	}
	if err := cfg.quote.load(); err != nil {
		fmt.Fprintf(stderr, "pricing-engine: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	raiseFileLimit(log)
	if err := serve(cfg, log); err != nil {
		log.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// serve wires the service from cfg and runs it until a signal.
func serve(cfg *config, log *slog.Logger) error {
	log.Info("starting pricing-engine", append([]any{"version", version, "revision", revision}, cfg.logAttrs()...)...)

	mset := metrics.New(metrics.BuildInfo{Version: version, Revision: revision})
	src, dataAttrs, closeSrc, err := dataSource(cfg, log, mset)
	if err != nil {
		return err
	}
	defer closeSrc() // after Shutdown: no lookup is running any more
	// The rules file (rules.go): the ruleset in use, reloads, demand.
	rl := newRules(&cfg.rules, src, log, mset)
	pcfg := pricing.Config{
		Deadline: cfg.lookupDeadline,
		Observe:  mset.ObserveLookup,
	}
	if rl.merger != nil {
		pcfg.Rules, pcfg.Demand = rl.Load, rl.merger
	}
	// The price history (history.go): prior prices of announced reductions.
	hist := newHistory(src, log, mset)
	pcfg.History = hist.merger
	if r := cfg.quote.ring; r != nil {
		pcfg.Quotes = r
		log.Info("signed quotes enabled", "keys_file", r.Path(), "key_ids", r.KeyIDs(), "ttl", r.TTL().String())
	}
	engine := pricing.NewEngine(cfg.latency.Wrap(src), pcfg)
	// The admin write API (admin.go): tokens, governed writes, audit.
	hist.repricer = newRepricer(engine, hist.merger, log)
	adm, err := newAdmin(cfg, src, log, mset, hist.repricer.wrote)
	if err != nil {
		return err
	}
	defer adm.close() // after Shutdown, as closeSrc
	// Tracing and the access log (tracing.go).
	trc, err := newTracing(&cfg.trace, log, mset)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		trc.close(ctx) // after Shutdown: the loops made their last spans and lines
	}()
	srv, err := server.New(cfg.server, server.Deps{
		Engine:      engine,
		Metrics:     mset,
		Logger:      log,
		Docs:        apidocs.New(),
		Admin:       adminPages(adm.protect(rl.adminRoutes())),
		AdminAPI:    adm.handler,
		AdminTLS:    adm.tlsConfig(),
		ReadyDetail: rl.readyDetail,
		NotReady:    notReady(src),
		Tracer:      trc.tracer,
		AccessLog:   trc.accessLog,
	})
	if err != nil {
		return err
	}
	// Catch the signals before announcing the ports: whoever waits for
	// the "serving" line may signal at once, and an uncaught SIGTERM
	// would kill the process instead of draining it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	rulesCtx, stopRules := context.WithCancel(context.Background())
	defer stopRules()
	rl.start(rulesCtx)   // SIGHUP and file changes reload; demand merges
	hist.start(rulesCtx) // history merges (and shares through the store)
	adm.start(rulesCtx)  // the tokens file: SIGHUP and changes reload
	trc.start(rulesCtx)  // SIGHUP reopens the access log
	// The quote keys file: SIGHUP and changes reload.
	startQuotes(rulesCtx, cfg.quote.ring, log)
	if err := srv.Start(); err != nil {
		return err
	}
	_, explicitProcs := os.LookupEnv("GOMAXPROCS")
	procs := raiseProcsForWaiting(engine.Instant(), explicitProcs)
	log.Info("serving", append([]any{"api", srv.Addr().String(), "admin", srv.AdminAddr(), "admin_tls", adm.cert != nil,
		"loops", srv.Loops(), "gomaxprocs", procs, "inline", engine.Instant()}, dataAttrs...)...)

	select {
	case s := <-sig:
		log.Info("signal received, draining", "signal", s.String())
	case <-srv.Done():
		return errors.New("event loops stopped unexpectedly")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}

func loadData(cfg *config) (*lookup.MemoryCatalog, *lookup.MemoryMarkets, error) {
	var (
		cat *lookup.MemoryCatalog
		mk  *lookup.MemoryMarkets
		err error
	)
	if cfg.catalogFile != "" {
		cat, err = lookup.LoadCatalogFile(cfg.catalogFile)
	} else {
		cat, err = lookup.DefaultCatalog()
	}
	if err != nil {
		return nil, nil, err // names the file and the line
	}
	if cfg.marketsFile != "" {
		mk, err = lookup.LoadMarketsFile(cfg.marketsFile)
	} else {
		mk, err = lookup.DefaultMarkets()
	}
	if err != nil {
		return nil, nil, err
	}
	return cat, mk, nil
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// healthcheck asks the admin listener's /healthz, for container health
// checks in images that have no curl.
func healthcheck(args []string, stderr io.Writer) int {
	cfg, err := parseConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	host, port, err := net.SplitHostPort(cfg.server.AdminAddr)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: bad admin address %q: %v\n", cfg.server.AdminAddr, err)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	scheme := "http"
	if cfg.admin.tlsCertFile != "" {
		// The probe asks a loopback /healthz and sends nothing secret; the
		// certificate names the service, not 127.0.0.1, and may be
		// rotating, so it is not verified here.
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // see above
	}
	resp, err := client.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: /healthz answered %d\n", resp.StatusCode)
		return 1
	}
	return 0
}
