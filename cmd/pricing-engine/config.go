package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
	"github.com/pricing-engine/pricing-engine/server"
)

// errHelp reports that --help was asked for and printed.
var errHelp = flag.ErrHelp

// config is the parsed, validated command line and environment.
type config struct {
	server          server.Config
	latency         lookup.Profile
	latencyName     string
	lookupDeadline  time.Duration
	shutdownTimeout time.Duration
	catalogFile     string
	marketsFile     string
	logFormat       string
	logLevel        slog.Level
	logLevelName    string
}

// envName maps a flag name to its environment variable: lookup-latency ->
// PRICING_LOOKUP_LATENCY.
func envName(flagName string) string {
	return "PRICING_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags, falling back to PRICING_* variables from getenv
// for flags not given, and validates the result.
func parseConfig(args []string, getenv func(string) (string, bool), out io.Writer) (*config, error) {
	d := server.DefaultConfig()
	c := &config{server: d}
	fs := flag.NewFlagSet("pricing-engine", flag.ContinueOnError)
	fs.SetOutput(out)
	sc := &c.server
	fs.StringVar(&sc.Addr, "addr", d.Addr, "API listen address (host:port; port 0 picks a free port)")
	fs.StringVar(&sc.AdminAddr, "admin-addr", d.AdminAddr, "admin listen address for /metrics, /healthz, /readyz, /docs, /debug/pprof/ (empty disables)")
	fs.IntVar(&sc.Loops, "loops", 0, "event loops (0 = one per CPU)")
	fs.StringVar(&c.latencyName, "lookup-latency", "none", `lookup latency profile: "none" (in memory), "seed" (catalog U[10,50] ms, market U[20,40] ms) or "fault:..." (see package lookup)`)
	fs.DurationVar(&c.lookupDeadline, "lookup-deadline", pricing.DefaultDeadline, "deadline for the lookups of one request")
	fs.StringVar(&c.catalogFile, "catalog", "", "catalog CSV file (product_id,base_price); empty uses the embedded catalog")
	fs.StringVar(&c.marketsFile, "markets", "", "markets CSV file (location,multiplier); empty uses the embedded markets")
	fs.IntVar(&sc.MaxConns, "max-conns", d.MaxConns, "maximum open API connections")
	fs.IntVar(&sc.MaxPipeline, "max-pipeline", d.MaxPipeline, "maximum requests per connection awaiting replies")
	fs.IntVar(&sc.PoolSize, "pool-size", d.PoolSize, "maximum concurrently running blocking requests")
	fs.IntVar(&sc.MaxOutboundBytes, "max-outbound-bytes", d.MaxOutboundBytes, "maximum unread reply bytes queued per connection")
	fs.IntVar(&sc.MaxInboundBytes, "max-inbound-bytes", d.MaxInboundBytes, "maximum unparsed bytes buffered per connection while its pipeline is full")
	fs.IntVar(&sc.Limits.MaxHeaderBytes, "max-header-bytes", d.Limits.MaxHeaderBytes, "maximum bytes of request line and headers")
	fs.IntVar(&sc.Limits.MaxHeaders, "max-headers", d.Limits.MaxHeaders, "maximum number of header fields")
	fs.Int64Var(&sc.Limits.MaxBodyBytes, "max-body-bytes", d.Limits.MaxBodyBytes, "maximum request body bytes")
	fs.DurationVar(&sc.HeaderTimeout, "header-timeout", d.HeaderTimeout, "time allowed to receive a request's header section")
	fs.DurationVar(&sc.BodyTimeout, "body-timeout", d.BodyTimeout, "time allowed to receive a request's body")
	fs.DurationVar(&sc.IdleTimeout, "idle-timeout", d.IdleTimeout, "idle keep-alive connections are closed after this")
	fs.DurationVar(&sc.WriteTimeout, "write-timeout", d.WriteTimeout, "connections whose replies are not read for this long are closed")
	fs.DurationVar(&sc.DrainDelay, "drain-delay", d.DrainDelay, "on SIGTERM, keep serving this long after /readyz starts failing")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGTERM, exit after at most this long (drain delay included)")
	fs.StringVar(&c.logFormat, "log-format", "text", `log format: "text" or "json"`)
	fs.StringVar(&c.logLevelName, "log-level", "info", `log level: "debug", "info", "warn" or "error"`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pricing-engine [flags]\n       pricing-engine healthcheck [flags]\n       pricing-engine version\n\nEvery flag can also be set by its environment variable, shown in brackets.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s [%s]\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := getenv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	p, err := lookup.ParseProfile(c.latencyName)
	if err != nil {
		errs = append(errs, fmt.Errorf("invalid --lookup-latency: %w", err))
	}
	c.latency = p
	switch c.logFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("invalid --log-format %q: want text or json", c.logFormat))
	}
	if err := c.logLevel.UnmarshalText([]byte(c.logLevelName)); err != nil {
		errs = append(errs, fmt.Errorf("invalid --log-level %q: %v", c.logLevelName, err))
	}
	if c.lookupDeadline <= 0 {
		errs = append(errs, fmt.Errorf("invalid --lookup-deadline %s: must be positive", c.lookupDeadline))
	}
	if c.shutdownTimeout <= c.server.DrainDelay {
		errs = append(errs, fmt.Errorf("invalid --shutdown-timeout %s: must exceed --drain-delay %s", c.shutdownTimeout, c.server.DrainDelay))
	}
	if c.server.MaxConns <= 0 || c.server.MaxPipeline <= 0 || c.server.PoolSize <= 0 {
		errs = append(errs, errors.New("--max-conns, --max-pipeline and --pool-size must be positive"))
	}
	if err := c.server.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// logAttrs is the effective configuration, logged once at start.
func (c *config) logAttrs() []any {
	s := c.server
	return []any{
		"addr", s.Addr, "admin_addr", s.AdminAddr, "loops", s.Loops,
		"lookup_latency", c.latency.String(), "lookup_deadline", c.lookupDeadline.String(),
		"catalog", orEmbedded(c.catalogFile), "markets", orEmbedded(c.marketsFile),
		"max_conns", s.MaxConns, "max_pipeline", s.MaxPipeline, "pool_size", s.PoolSize,
		"max_header_bytes", s.Limits.MaxHeaderBytes, "max_headers", s.Limits.MaxHeaders, "max_body_bytes", s.Limits.MaxBodyBytes,
		"max_outbound_bytes", s.MaxOutboundBytes, "max_inbound_bytes", s.MaxInboundBytes,
		"header_timeout", s.HeaderTimeout.String(), "body_timeout", s.BodyTimeout.String(),
		"idle_timeout", s.IdleTimeout.String(), "write_timeout", s.WriteTimeout.String(),
		"drain_delay", s.DrainDelay.String(), "shutdown_timeout", c.shutdownTimeout.String(),
		"log_format", c.logFormat, "log_level", c.logLevel.String(),
	}
}

func orEmbedded(path string) string {
	if path == "" {
		return "embedded"
	}
	return path
}
