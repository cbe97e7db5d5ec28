package server

import (
	"errors"
	"fmt"
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
	// PoolSize caps the price requests waiting on lookups (and,
	// separately, the metrics requests running on the goroutine pool).
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
	DefaultPoolSize         = 20_000
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

// Validate reports every invalid field, naming each.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", name, v))
		}
	}
	posd := func(name string, v time.Duration) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", name, v))
		}
	}
	pos("loops", c.Loops)
	pos("max-conns", c.MaxConns)
	pos("max-pipeline", c.MaxPipeline)
	pos("max-inbound-bytes", c.MaxInboundBytes)
	pos("max-outbound-bytes", c.MaxOutboundBytes)
	pos("pool-size", c.PoolSize)
	pos("max-header-bytes", c.Limits.MaxHeaderBytes)
	pos("max-headers", c.Limits.MaxHeaders)
	if c.Limits.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max-body-bytes must not be negative, got %d", c.Limits.MaxBodyBytes))
	}
	posd("header-timeout", c.HeaderTimeout)
	posd("body-timeout", c.BodyTimeout)
	posd("idle-timeout", c.IdleTimeout)
	posd("write-timeout", c.WriteTimeout)
	posd("tick-interval", c.TickInterval)
	posd("drain-delay", c.DrainDelay)
	posd("drain-idle-grace", c.DrainIdleGrace)
	if c.MaxBufferedBytes < 0 {
		errs = append(errs, fmt.Errorf("max-buffered-bytes must not be negative, got %d", c.MaxBufferedBytes))
	}
	if c.MaxPipeline > 1024 {
		errs = append(errs, fmt.Errorf("max-pipeline must be at most 1024, got %d", c.MaxPipeline))
	}
	return errors.Join(errs...)
}
