package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
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
	store           storeConfig
	rules           rulesConfig
	admin           adminConfig
	adminStore      adminStoreConfig
	trace           traceConfig
	quote           quoteConfig
	logFormat       string
	logLevel        slog.Level
	logLevelName    string

	// fieldFlags maps a server.Config field (a server.FieldError's Field)
	// to the flag that sets it; fromEnv holds the flags set from their
	// PRICING_* variable. Both are for validate's messages.
	fieldFlags map[string]string
	fromEnv    map[string]bool
}

// envName maps a flag name to its environment variable: lookup-latency ->
// PRICING_LOOKUP_LATENCY.
func envName(flagName string) string {
	return "PRICING_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// usageHeader opens the --help text.
const usageHeader = `Usage: pricing-engine [flags]
       pricing-engine healthcheck [flags]
       pricing-engine import --store URL (--catalog FILE | --markets FILE | --embedded) [--replace]
       pricing-engine version

Every flag can also be set by its environment variable, shown in brackets;
a flag given on the command line wins over its variable.

`

// flagSet declares every flag, bound to the fields of c (which it first
// sets to the defaults). Its Usage writes the --help text to the set's
// output: each flag with its environment variable, meaning and default.
func (c *config) flagSet() *flag.FlagSet {
	d := server.DefaultConfig()
	*c = config{server: d, fieldFlags: map[string]string{}}
	fs := flag.NewFlagSet("pricing-engine", flag.ContinueOnError)
	sc := &c.server
	// field declares that flag name sets the server.Config field; the
	// server owns the field's bounds (server.Config.ValidateExplicit).
	field := func(field, name string) string {
		c.fieldFlags[field] = name
		return name
	}
	fs.StringVar(&sc.Addr, "addr", d.Addr, "API listen address (host:port; port 0 picks a free port)")
	fs.StringVar(&sc.AdminAddr, "admin-addr", d.AdminAddr, "admin listen address for /metrics, /healthz, /readyz, /docs and, with --pprof, /debug/pprof/ (empty disables)")
	boolFlag(fs, &sc.Pprof, "pprof", "serve Go profiles under /debug/pprof/ on the admin listener (off by default: anyone who reaches the admin port could take CPU profiles)")
	wholeFlag(fs, &sc.Loops, field("Loops", "loops"), 0, "event loops (0 = GOMAXPROCS: the CPUs the process may use, container CPU limit included)")
	fs.StringVar(&c.latencyName, "lookup-latency", "none", `lookup latency profile: "none" (in memory), "seed" (catalog U[10,50] ms, market U[20,40] ms) or "fault:..." (see package lookup)`)
	durationFlag(fs, &c.lookupDeadline, "lookup-deadline", pricing.DefaultDeadline, "deadline for the lookups of one request")
	fs.StringVar(&c.catalogFile, "catalog", "", "catalog CSV file (product_id,base_price); empty uses the embedded catalog")
	fs.StringVar(&c.marketsFile, "markets", "", "markets CSV file (location,multiplier); empty uses the embedded markets")
	c.store.register(fs)
	c.rules.register(fs)
	c.admin.register(fs)
	c.adminStore.register(fs)
	c.trace.register(fs)
	c.quote.register(fs)
	wholeFlag(fs, &sc.MaxConns, field("MaxConns", "max-conns"), d.MaxConns, "maximum open API connections (0 = the file-descriptor limit minus headroom, at most 100000: see docs/RELIABILITY.md)")
	wholeFlag(fs, &sc.MaxBufferedBytes, field("MaxBufferedBytes", "max-buffered-bytes"), d.MaxBufferedBytes, "budget of bytes buffered for all API connections; past it those holding the most unread output are closed (0 = a quarter of GOMEMLIMIT when set, else 64 MiB)")
	wholeFlag(fs, &sc.MaxPipeline, field("MaxPipeline", "max-pipeline"), d.MaxPipeline, "maximum requests per connection awaiting replies")
	wholeFlag(fs, &sc.MaxWaiting, field("MaxWaiting", "max-waiting"), d.MaxWaiting, "maximum price and batch requests waiting on lookups (they hold no goroutine); past it such requests are answered 503")
	wholeFlag(fs, &sc.PoolSize, field("PoolSize", "pool-size"), d.PoolSize, "maximum worker goroutines, which run the metrics exposition; past it a metrics request is answered 503")
	durationFlag(fs, &sc.QueueTarget, field("QueueTarget", "queue-target"), d.QueueTarget, "admission control: while requests wait longer than this for their event loop, a growing share of price requests is answered 503 at once (negative: off)")
	wholeFlag(fs, &sc.MaxOutboundBytes, field("MaxOutboundBytes", "max-outbound-bytes"), d.MaxOutboundBytes, "maximum unread reply bytes queued per connection")
	wholeFlag(fs, &sc.MaxInboundBytes, field("MaxInboundBytes", "max-inbound-bytes"), d.MaxInboundBytes, "maximum unparsed bytes buffered per connection while its pipeline is full")
	wholeFlag(fs, &sc.Limits.MaxHeaderBytes, field("Limits.MaxHeaderBytes", "max-header-bytes"), d.Limits.MaxHeaderBytes, "maximum bytes of request line and headers")
	wholeFlag(fs, &sc.Limits.MaxHeaders, field("Limits.MaxHeaders", "max-headers"), d.Limits.MaxHeaders, "maximum number of header fields")
	wholeFlag(fs, &sc.Limits.MaxBodyBytes, field("Limits.MaxBodyBytes", "max-body-bytes"), d.Limits.MaxBodyBytes, "maximum request body bytes")
	durationFlag(fs, &sc.HeaderTimeout, field("HeaderTimeout", "header-timeout"), d.HeaderTimeout, "time allowed to receive a request's header section")
	durationFlag(fs, &sc.BodyTimeout, field("BodyTimeout", "body-timeout"), d.BodyTimeout, "time allowed to receive a request's body")
	durationFlag(fs, &sc.IdleTimeout, field("IdleTimeout", "idle-timeout"), d.IdleTimeout, "idle keep-alive connections are closed after this")
	durationFlag(fs, &sc.WriteTimeout, field("WriteTimeout", "write-timeout"), d.WriteTimeout, "connections whose replies are not read for this long are closed")
	durationFlag(fs, &sc.DrainDelay, field("DrainDelay", "drain-delay"), d.DrainDelay, "on SIGTERM, keep serving this long after /readyz starts failing")
	durationFlag(fs, &sc.DrainIdleGrace, field("DrainIdleGrace", "drain-idle-grace"), d.DrainIdleGrace, "after the drain delay, keep-alive connections idle this long are closed (the others close after their next reply)")
	durationFlag(fs, &c.shutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGTERM, exit after at most this long (drain delay included)")
	fs.StringVar(&c.logFormat, "log-format", "text", `log format: "text" or "json"`)
	fs.StringVar(&c.logLevelName, "log-level", "info", `log level: "debug", "info", "warn" or "error"`)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s [%s]\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	return fs
}

// parseConfig reads flags, falling back to PRICING_* variables from getenv
// for flags not given, and validates the result. For --help it writes the
// usage to helpOut and returns errHelp; other errors are returned, not
// printed.
func parseConfig(args []string, getenv func(string) (string, bool), helpOut io.Writer) (*config, error) {
	c := new(config)
	fs := c.flagSet()
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, errHelp) {
			_, _ = helpOut.Write(usage.Bytes())
		}
		return nil, flagParseError(err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := envFallback(fs, getenv, true); err != nil {
		return nil, err
	}
	c.fromEnv = map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := getenv(envName(f.Name)); ok && !given[f.Name] {
			c.fromEnv[f.Name] = true
		}
	})
	return c, c.validate()
}

// The numeric flag values: like the flag package's, but a bad value is
// reported with what was wanted rather than "parse error".
type (
	wholeValue[T int | int64] struct{ p *T }
	durationValue             struct{ p *time.Duration }
	boolValue                 struct{ p *bool }
)

// boolFlag declares a boolean flag, false by default (--name alone sets
// it).
func boolFlag(fs *flag.FlagSet, p *bool, name, usage string) {
	*p = false
	fs.Var(boolValue{p}, name, usage)
}

func (v boolValue) String() string   { return strconv.FormatBool(v.p != nil && *v.p) }
func (v boolValue) Get() any         { return *v.p }
func (v boolValue) IsBoolFlag() bool { return true }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want true or false (or 1 or 0)")
	}
	*v.p = b
	return nil
}

func wholeFlag[T int | int64](fs *flag.FlagSet, p *T, name string, def T, usage string) {
	*p = def
	fs.Var(wholeValue[T]{p}, name, usage)
}

func durationFlag(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var(durationValue{p}, name, usage)
}

func (v wholeValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v wholeValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil || int64(T(n)) != n { // the second: out of range for T
		return errors.New("want a whole number")
	}
	*v.p = T(n)
	return nil
}

func (v wholeValue[T]) Get() any { return *v.p }

func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a duration such as 500ms, 10s or 1m30s")
	}
	*v.p = d
	return nil
}

func (v durationValue) Get() any { return *v.p }

// validate checks the values together; every message names its flag (and
// the variable, when the value came from one). The bounds of the server's
// fields are the server's (server.Config.ValidateExplicit); this checks
// only the command's own flags.
func (c *config) validate() error {
	var errs []error
	bad := func(name, value, reason string) {
		errs = append(errs, errors.New(c.flagMessage(name, value, reason)))
	}
	p, err := lookup.ParseProfile(c.latencyName)
	if err != nil {
		bad("lookup-latency", strconv.Quote(c.latencyName), err.Error())
	}
	c.latency = p
	switch c.logFormat {
	case "text", "json":
	default:
		bad("log-format", strconv.Quote(c.logFormat), "want text or json")
	}
	if err := c.logLevel.UnmarshalText([]byte(c.logLevelName)); err != nil {
		bad("log-level", strconv.Quote(c.logLevelName), "want debug, info, warn or error")
	}
	if err := c.store.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.admin.validate(); err != nil {
		errs = append(errs, err)
	} else if c.admin.tlsCertFile != "" && c.server.AdminAddr == "" {
		errs = append(errs, errors.New("invalid admin TLS: --admin-tls-cert-file needs the admin listener (--admin-addr is empty)"))
	}
	if err := c.quote.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.adminStore.validate(&c.store); err != nil {
		errs = append(errs, err)
	}
	if c.lookupDeadline <= 0 {
		bad("lookup-deadline", c.lookupDeadline.String(), "must be positive")
	}
	if c.shutdownTimeout <= c.server.DrainDelay {
		bad("shutdown-timeout", c.shutdownTimeout.String(), "must exceed --drain-delay "+c.server.DrainDelay.String())
	}
	if err := c.server.ValidateExplicit(); err != nil {
		for _, e := range unwrapJoined(err) {
			var fe *server.FieldError
			name, ok := "", false
			if errors.As(e, &fe) {
				name, ok = c.fieldFlags[fe.Field]
			}
			if !ok { // a field no flag sets: its default cannot be invalid
				errs = append(errs, fmt.Errorf("invalid configuration: %w", e))
				continue
			}
			bad(name, fe.Value, fe.Reason)
		}
	}
	return errors.Join(errs...)
}

// flagMessage is the one form of a bad flag value's message:
// "invalid --name value: reason", with "(from PRICING_NAME)" after the
// value when the variable set it.
func (c *config) flagMessage(name, value, reason string) string {
	from := ""
	if c.fromEnv[name] {
		from = " (from " + envName(name) + ")"
	}
	return fmt.Sprintf("invalid --%s %s%s: %s", name, value, from, reason)
}

// unwrapJoined lists the errors joined in err (err itself when it joins
// none).
func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// logAttrs is the effective configuration, logged once at start.
func (c *config) logAttrs() []any {
	s := c.server
	return []any{
		"addr", s.Addr, "admin_addr", s.AdminAddr, "loops", s.Loops,
		"lookup_latency", c.latency.String(), "lookup_deadline", c.lookupDeadline.String(),
		"store", c.store.redacted(), "admin_store", c.adminStore.redacted(), "rules", c.rules.path, "admin_tokens_file", c.admin.tokensFile, "admin_tls_cert_file", c.admin.tlsCertFile, "audit_retention", c.admin.auditRetention.String(), "trace_endpoint", c.trace.endpoint, "trace_sample", c.trace.sample, "trace_trust_parent", c.trace.trustParent, "access_log", c.trace.accessLog, "access_log_sample", c.trace.accessLogSample, "catalog", orEmbedded(c.catalogFile), "markets", orEmbedded(c.marketsFile),
		"quote_keys_file", c.quote.keysFile, "quote_ttl", c.quote.ttl.String(),
		"max_conns", s.MaxConns, "max_pipeline", s.MaxPipeline, "max_waiting", s.MaxWaiting, "pool_size", s.PoolSize,
		"max_header_bytes", s.Limits.MaxHeaderBytes, "max_headers", s.Limits.MaxHeaders, "max_body_bytes", s.Limits.MaxBodyBytes,
		"max_outbound_bytes", s.MaxOutboundBytes, "max_inbound_bytes", s.MaxInboundBytes,
		"header_timeout", s.HeaderTimeout.String(), "body_timeout", s.BodyTimeout.String(),
		"idle_timeout", s.IdleTimeout.String(), "write_timeout", s.WriteTimeout.String(),
		"pprof", s.Pprof, "drain_delay", s.DrainDelay.String(), "shutdown_timeout", c.shutdownTimeout.String(),
		"log_format", c.logFormat, "log_level", c.logLevel.String(),
	}
}

func orEmbedded(path string) string {
	if path == "" {
		return "embedded"
	}
	return path
}

// envFallback sets the flags not given on the command line from their
// PRICING_* variables. A bad value is reported with the variable and the
// flag it stands for, and with the value itself when showValues is set (the
// import command does not show values: its --store may carry a password).
func envFallback(fs *flag.FlagSet, getenv func(string) (string, bool), showValues bool) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		v, ok := getenv(envName(f.Name))
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			if showValues {
				errs = append(errs, fmt.Errorf("invalid --%s %q (from %s): %v", f.Name, v, envName(f.Name), err))
			} else {
				errs = append(errs, fmt.Errorf("invalid --%s (from %s): %v", f.Name, envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// flagValueError is the flag package's message for a value its flag
// refuses.
var flagValueError = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([a-z0-9-]+): (.*)$`)

// flagParseError rewrites the flag package's message for a bad value in
// the form of every other bad value: `invalid --name "value": reason`, as
// for the same value from its PRICING_* variable. Other errors (an unknown
// flag) pass unchanged.
func flagParseError(err error) error {
	m := flagValueError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	return fmt.Errorf("invalid --%s %s: %s", m[2], m[1], m[3])
}
