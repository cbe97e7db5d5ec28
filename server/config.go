package server

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/httpparse"
)

// Config holds the server's tunables. A zero numeric field means its default
// (see [DefaultConfig]), except where its comment gives zero another meaning
// (Loops, DrainDelay).
type Config struct {
	// Addr is the API listener address, host:port. Port 0 picks a free
	// port; [Server.Addr] reports it.
	Addr string
	// AdminAddr is the net/http admin listener address; empty disables it.
	AdminAddr string
	// Loops is the number of event loops; 0 means runtime.GOMAXPROCS(0),
	// which follows a container's CPU limit, the CPU affinity mask and the
	// GOMAXPROCS environment variable.
	Loops int

	// Limits bounds each request (header bytes and count, target, body).
	Limits httpparse.Limits

	// MaxConns caps open API connections; past it new connections get a
	// 503 and are closed. 0 derives it from the soft RLIMIT_NOFILE (see
	// [MaxConnsForFDLimit]).
	MaxConns int
	// MaxPipeline caps requests per connection that are parsed but not yet
	// answered.
	MaxPipeline int
	// MaxInboundBytes caps unparsed bytes buffered for one connection
	// while its pipeline is full; past it the connection is closed.
	MaxInboundBytes int
	// MaxOutboundBytes caps reply bytes queued for a client that does not
	// read them; past it the connection is closed.
	MaxOutboundBytes int
	// MaxWaiting caps the price and batch requests waiting on lookups
	// (each holds no goroutine: its lookups complete it by callback); past
	// it such a request is answered 503 + Retry-After at once.
	MaxWaiting int
	// PoolSize caps the worker pool's goroutines, which run the metrics
	// exposition; past it a metrics request is answered 503 +
	// Retry-After.
	PoolSize int
	// QueueTarget is the admission control's target queueing delay: while
	// an event loop makes requests wait longer than this before it gets to
	// them (the minimum over 100 ms), a growing share of new price requests
	// is answered 503 + Retry-After at once (see admission.go). Negative
	// turns admission control off.
	QueueTarget time.Duration

	// HeaderTimeout bounds the time from a request's first byte to the end
	// of its header section.
	HeaderTimeout time.Duration
	// BodyTimeout bounds the time to receive a request body once its
	// header section is complete.
	BodyTimeout time.Duration
	// IdleTimeout closes keep-alive connections with nothing to do.
	IdleTimeout time.Duration
	// WriteTimeout closes connections whose queued replies have not been
	// drained by the client for this long.
	WriteTimeout time.Duration
	// TickInterval is how often timeouts are checked and the Date header
	// refreshed.
	TickInterval time.Duration

	// DrainDelay is how long [Server.Shutdown] keeps serving normally
	// after /readyz starts failing.
	DrainDelay time.Duration
	// DrainIdleGrace: after the drain delay, a keep-alive connection is
	// closed once it has been idle this long (a client that has just
	// received a reply may be writing its next request); others get
	// Connection: close on their next reply.
	DrainIdleGrace time.Duration

	// MaxBufferedBytes is the global budget of bytes buffered for API
	// connections (unparsed input plus unsent output). Past it the
	// connections holding the most unread output are closed first.
	// 0 derives it from GOMEMLIMIT (see [DefaultBufferBudget]).
	MaxBufferedBytes int64

	// Pprof serves net/http/pprof's profiles under /debug/pprof/ on the
	// admin listener. Off by default: the admin listener is reachable by
	// anything on the cluster network, and profiles on demand cost CPU and
	// reveal internals.
	Pprof bool
}

// Defaults of [Config].
const (
	DefaultAddr             = ":8000"
	DefaultAdminAddr        = ":8001"
	DefaultMaxConns         = 100_000
	DefaultMaxPipeline      = 16
	DefaultMaxInboundBytes  = 128 << 10 // the largest request (8 KiB head, 64 KiB body) and more
	DefaultMaxOutboundBytes = 32 << 10  // 16 pipelined replies of a few hundred bytes, several times over
	DefaultMaxWaiting       = 20_000
	DefaultPoolSize         = 64 // metrics scrapes: a few at a time; each gathers the whole registry
	DefaultHeaderTimeout    = 5 * time.Second
	DefaultBodyTimeout      = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultTickInterval     = 250 * time.Millisecond
	DefaultDrainDelay       = 5 * time.Second
	DefaultQueueTarget      = 50 * time.Millisecond
	DefaultDrainIdleGrace   = time.Second
)

// DefaultConfig returns the configuration used for zero fields.
func DefaultConfig() Config {
	return Config{
		Addr:             DefaultAddr,
		AdminAddr:        DefaultAdminAddr,
		Limits:           httpparse.DefaultLimits(),
		MaxConns:         0, // derived from RLIMIT_NOFILE
		MaxPipeline:      DefaultMaxPipeline,
		MaxInboundBytes:  DefaultMaxInboundBytes,
		MaxOutboundBytes: DefaultMaxOutboundBytes,
		MaxWaiting:       DefaultMaxWaiting,
		PoolSize:         DefaultPoolSize,
		HeaderTimeout:    DefaultHeaderTimeout,
		BodyTimeout:      DefaultBodyTimeout,
		IdleTimeout:      DefaultIdleTimeout,
		WriteTimeout:     DefaultWriteTimeout,
		TickInterval:     DefaultTickInterval,
		DrainDelay:       DefaultDrainDelay,
		QueueTarget:      DefaultQueueTarget,
		DrainIdleGrace:   DefaultDrainIdleGrace,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	def := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	defd := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&c.MaxConns, defaultMaxConns())
	def(&c.MaxPipeline, d.MaxPipeline)
	def(&c.MaxInboundBytes, d.MaxInboundBytes)
	def(&c.MaxOutboundBytes, d.MaxOutboundBytes)
	def(&c.MaxWaiting, d.MaxWaiting)
	def(&c.PoolSize, d.PoolSize)
	defd(&c.HeaderTimeout, d.HeaderTimeout)
	defd(&c.BodyTimeout, d.BodyTimeout)
	defd(&c.IdleTimeout, d.IdleTimeout)
	defd(&c.WriteTimeout, d.WriteTimeout)
	defd(&c.TickInterval, d.TickInterval)
	defd(&c.QueueTarget, d.QueueTarget)
	defd(&c.DrainIdleGrace, d.DrainIdleGrace)
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = DefaultBufferBudget()
	}
	l, dl := &c.Limits, d.Limits
	def(&l.MaxHeaderBytes, dl.MaxHeaderBytes)
	def(&l.MaxHeaders, dl.MaxHeaders)
	def(&l.MaxTargetBytes, dl.MaxTargetBytes)
	def(&l.MaxChunkMetaBytes, dl.MaxChunkMetaBytes)
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = dl.MaxBodyBytes
	}
	return c
}

// Validate reports every invalid field of c, each as a [*FieldError]
// (joined with [errors.Join]). A zero field that means its default is
// valid; see [Config.ValidateExplicit] for values a user gave.
func (c Config) Validate() error { return c.validate(false) }

// ValidateExplicit is [Config.Validate] for a configuration whose every
// field was given explicitly, such as a command line filled from
// [DefaultConfig]: where Validate takes a zero for "the default", this
// rejects it (a user who writes 0 for a timeout more likely means "none"
// than "the default"). Fields whose zero has a meaning of its own (Loops,
// MaxConns, MaxBufferedBytes, DrainDelay) accept it in both.
func (c Config) ValidateExplicit() error { return c.validate(true) }

// A FieldError is one invalid field of a [Config]. A command that maps its
// flags to fields rewrites it in its own terms from Field, Value and Reason.
type FieldError struct {
	Field  string // the field's path in Config: "MaxPipeline", "Limits.MaxBodyBytes"
	Value  string // the value, formatted: "-1", "0s"
	Reason string // what is wanted: "must be positive"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid %s %s: %s", e.Field, e.Value, e.Reason)
}

// zeroUse says what a zero in a field means.
type zeroUse int

const (
	zeroDefault zeroUse = iota // zero means the default: valid, except given explicitly
	zeroMeaning                // zero has a meaning of its own: always valid
)

// fieldRule is one row of the table of bounds: every numeric field of
// Config and what it allows. Values are int64 (durations in nanoseconds).
type fieldRule struct {
	field  string
	get    func(*Config) int64
	dur    bool    // format the value as a time.Duration
	zero   zeroUse // what zero means
	max    int64   // largest allowed value; 0: no bound
	signed bool    // negative values are allowed (they have a meaning)
	reason string  // the Reason for a zero or negative value
}

// fieldRules is the one table of bounds of a Config; the command's flags
// map onto these fields and quote the flag in the message.
var fieldRules = [...]fieldRule{
	{field: "Loops", get: func(c *Config) int64 { return int64(c.Loops) }, zero: zeroMeaning, reason: "must be 0 (GOMAXPROCS) or positive"},
	{field: "MaxConns", get: func(c *Config) int64 { return int64(c.MaxConns) }, zero: zeroMeaning, reason: "must be positive, or 0 for the default derived from the file-descriptor limit"},
	{field: "MaxPipeline", get: func(c *Config) int64 { return int64(c.MaxPipeline) }, max: maxPipeline, reason: "must be positive"},
	{field: "MaxInboundBytes", get: func(c *Config) int64 { return int64(c.MaxInboundBytes) }, reason: "must be positive"},
	{field: "MaxOutboundBytes", get: func(c *Config) int64 { return int64(c.MaxOutboundBytes) }, reason: "must be positive"},
	{field: "MaxWaiting", get: func(c *Config) int64 { return int64(c.MaxWaiting) }, reason: "must be positive"},
	{field: "PoolSize", get: func(c *Config) int64 { return int64(c.PoolSize) }, reason: "must be positive"},
	{field: "QueueTarget", get: func(c *Config) int64 { return int64(c.QueueTarget) }, dur: true, signed: true, reason: "must not be 0 (negative turns admission control off)"},
	{field: "Limits.MaxHeaderBytes", get: func(c *Config) int64 { return int64(c.Limits.MaxHeaderBytes) }, reason: "must be positive"},
	{field: "Limits.MaxHeaders", get: func(c *Config) int64 { return int64(c.Limits.MaxHeaders) }, reason: "must be positive"},
	{field: "Limits.MaxTargetBytes", get: func(c *Config) int64 { return int64(c.Limits.MaxTargetBytes) }, reason: "must be positive"},
	{field: "Limits.MaxChunkMetaBytes", get: func(c *Config) int64 { return int64(c.Limits.MaxChunkMetaBytes) }, reason: "must be positive"},
	{field: "Limits.MaxBodyBytes", get: func(c *Config) int64 { return c.Limits.MaxBodyBytes }, reason: "must be positive"},
	{field: "HeaderTimeout", get: func(c *Config) int64 { return int64(c.HeaderTimeout) }, dur: true, reason: "must be positive"},
	{field: "BodyTimeout", get: func(c *Config) int64 { return int64(c.BodyTimeout) }, dur: true, reason: "must be positive"},
	{field: "IdleTimeout", get: func(c *Config) int64 { return int64(c.IdleTimeout) }, dur: true, reason: "must be positive"},
	{field: "WriteTimeout", get: func(c *Config) int64 { return int64(c.WriteTimeout) }, dur: true, reason: "must be positive"},
	{field: "TickInterval", get: func(c *Config) int64 { return int64(c.TickInterval) }, dur: true, reason: "must be positive"},
	{field: "DrainDelay", get: func(c *Config) int64 { return int64(c.DrainDelay) }, dur: true, zero: zeroMeaning, reason: "must not be negative"},
	{field: "DrainIdleGrace", get: func(c *Config) int64 { return int64(c.DrainIdleGrace) }, dur: true, reason: "must be positive"},
	{field: "MaxBufferedBytes", get: func(c *Config) int64 { return c.MaxBufferedBytes }, zero: zeroMeaning, reason: "must be positive, or 0 for the default derived from GOMEMLIMIT"},
}

// maxPipeline bounds MaxPipeline: every connection allocates its queue of
// pending requests at that size.
const maxPipeline = 1024

func (c Config) validate(explicit bool) error {
	var errs []error
	for i := range fieldRules {
		r := &fieldRules[i]
		v := r.get(&c)
		reason := ""
		switch {
		case v < 0 && !r.signed, v == 0 && explicit && r.zero == zeroDefault:
			reason = r.reason
		case r.max > 0 && v > r.max:
			reason = fmt.Sprintf("must be at most %d", r.max)
		default:
			continue
		}
		val := strconv.FormatInt(v, 10)
		if r.dur {
			val = time.Duration(v).String()
		}
		errs = append(errs, &FieldError{Field: r.field, Value: val, Reason: reason})
	}
	return errors.Join(errs...)
}
