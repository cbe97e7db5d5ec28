package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds on the configuration, checked by Config.Validate.
const (
	// MaxUsers bounds Config.Users (virtual users or connections).
	MaxUsers = 200_000
	// MaxPipeline bounds Config.Pipeline.
	MaxPipeline = 1024
	// MaxDuration bounds Config.Duration: every run stops by itself.
	MaxDuration = 24 * time.Hour
	// MaxRate bounds Config.Rate in requests per second.
	MaxRate = 10_000_000
	// maxTrackable is the largest latency the histograms resolve; larger
	// values are recorded as this value.
	maxTrackable = time.Hour
)

// Engines (Config.Engine).
const (
	// EngineGoroutine runs a goroutine per connection (or virtual user)
	// on the net package. It is the default and the only closed-loop
	// engine.
	EngineGoroutine = "goroutine"
	// EngineEpoll runs the open loop on one locked OS thread driving
	// non-blocking sockets through one epoll instance (engine_epoll.go):
	// no goroutine, timer or allocation per request, less CPU per request
	// than EngineGoroutine and, above all, it keeps to the arrival
	// schedule at rates where EngineGoroutine falls behind. It needs
	// Rate > 0, Pipeline 1 and no batch workload.
	EngineEpoll = "epoll"
)

// Config describes one load-test run. The zero value is not usable: start
// from DefaultConfig and change what differs.
type Config struct {
	// URL is the target, e.g. http://127.0.0.1:8000/api/v1/price. Only the
	// http scheme is supported. Its path and query are the request target.
	URL string
	// AllowRemote permits targets that are not loopback addresses. Without
	// it, Validate refuses any host but 127.0.0.0/8, ::1 and "localhost".
	AllowRemote bool

	// Users is the number of virtual users in closed-loop mode, and the
	// number of connections that share the arrivals in open-loop mode.
	Users int
	// ThinkMin and ThinkMax bound the uniform think time of a closed-loop
	// user between two requests. Both zero: users send back to back.
	ThinkMin, ThinkMax time.Duration
	// Ramp spreads the first request of each closed-loop user uniformly
	// over [0, Ramp). A negative value means ThinkMax.
	Ramp time.Duration

	// Rate, when positive, selects open-loop mode with this many requests
	// per second in total.
	Rate float64

	// Duration bounds the run: no request is started after it has passed.
	// Requests in flight then finish or time out.
	Duration time.Duration
	// MaxRequests, when positive, bounds the number of requests sent.
	MaxRequests int64
	// Warmup excludes requests that complete during the first Warmup of
	// the run from the statistics.
	Warmup time.Duration
	// Timeout bounds each exchange (connect, write and read of one batch).
	Timeout time.Duration
	// Pipeline is the number of requests written back to back on a
	// connection before their replies are read (1: no pipelining).
	Pipeline int
	// NewConn opens a new connection for every request (or pipelined batch)
	// and asks the server to close it ("Connection: close").
	NewConn bool

	// SourceAddrs, when not empty, are the local IP addresses connections
	// are bound to, worker i using SourceAddrs[i%len]. One source address
	// reaches one server port with about 28,000 connections (the
	// ephemeral port range); several loopback sources (127.0.0.2, ...)
	// lift that limit. They must be loopback addresses unless AllowRemote.
	SourceAddrs []netip.Addr

	// Engine is the open-loop engine: EngineGoroutine (or "") or
	// EngineEpoll. See the Engine* constants.
	Engine string
	// Tick, with EngineEpoll, batches the engine's work: while requests
	// are in flight it wakes once a tick and takes every socket event
	// ready then, instead of once an event. Arrivals are then sent up to
	// one tick late and replies timed up to one tick late (both count in
	// the latency); zero wakes for every event and arrival.
	Tick time.Duration

	// Workload says what each request asks for and how replies are checked.
	Workload Workload
	// Seed makes the random choices of a run reproducible.
	Seed uint64

	// Progress, when not nil, receives a progress line every
	// ProgressInterval, rewritten in place with a carriage return.
	Progress io.Writer
	// ProgressInterval is the sampling interval of the time series (and of
	// the progress line). Zero means one second.
	ProgressInterval time.Duration
}

// DefaultConfig returns the classic acceptance workload: 10,000 users
// thinking 0.5-2 s between requests for 60 s against the local server.
func DefaultConfig() Config {
	return Config{
		URL:              "http://127.0.0.1:8000/api/v1/price",
		Users:            10_000,
		ThinkMin:         500 * time.Millisecond,
		ThinkMax:         2 * time.Second,
		Ramp:             -1,
		Duration:         60 * time.Second,
		Timeout:          5 * time.Second,
		Pipeline:         1,
		Workload:         ClassicWorkload(),
		Seed:             1,
		ProgressInterval: time.Second,
	}
}

// target is the parsed form of Config.URL.
type target struct {
	dialAddr   string // host:port to dial
	hostHeader string // value of the Host header
	requestURI string // path and query
}

// Validate checks the configuration and reports the first problem found.
// It resolves "localhost" but no other name, so that a remote target is
// refused without sending anything to it.
func (c *Config) Validate() error {
	_, err := c.target(context.Background())
	if err != nil {
		return err
	}
	switch {
	case c.Users < 1 || c.Users > MaxUsers:
		return fmt.Errorf("users %d out of range [1, %d]", c.Users, MaxUsers)
	case c.ThinkMin < 0 || c.ThinkMax < c.ThinkMin:
		return fmt.Errorf("think time [%v, %v] is not a valid range", c.ThinkMin, c.ThinkMax)
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("rate %g out of range [0, %d]", c.Rate, MaxRate)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration %v out of range (0, %v]", c.Duration, MaxDuration)
	case c.MaxRequests < 0:
		return fmt.Errorf("max requests %d is negative", c.MaxRequests)
	case c.Warmup < 0 || c.Warmup >= c.Duration:
		return fmt.Errorf("warmup %v must be in [0, duration %v)", c.Warmup, c.Duration)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %v must be positive", c.Timeout)
	case c.Pipeline < 1 || c.Pipeline > MaxPipeline:
		return fmt.Errorf("pipeline depth %d out of range [1, %d]", c.Pipeline, MaxPipeline)
	case c.ProgressInterval < 0:
		return fmt.Errorf("progress interval %v is negative", c.ProgressInterval)
	case c.Engine != "" && c.Engine != EngineGoroutine && c.Engine != EngineEpoll:
		return fmt.Errorf("engine %q is not %q or %q", truncate(c.Engine), EngineGoroutine, EngineEpoll)
	case c.Engine == EngineEpoll && c.Rate <= 0:
		return fmt.Errorf("engine %q is open loop only: it needs a rate", EngineEpoll)
	case c.Tick < 0 || c.Tick > time.Second:
		return fmt.Errorf("tick %v out of range [0, 1s]", c.Tick)
	case c.Engine == EngineEpoll && c.Workload.Batch > 0:
		return fmt.Errorf("engine %q does not run the batch workload", EngineEpoll)
	case c.Engine == EngineEpoll && c.Pipeline != 1:
		return fmt.Errorf("engine %q sends one request per connection at a time: pipeline must be 1", EngineEpoll)
	}
	for _, a := range c.SourceAddrs {
		if !a.IsValid() || (!c.AllowRemote && !a.Unmap().IsLoopback()) {
			return fmt.Errorf("source address %v: %w", a, errRemote)
		}
	}
	if err := c.Workload.Validate(); err != nil {
		return fmt.Errorf("invalid workload: %w", err)
	}
	return nil
}

// errRemote is returned for targets that are not loopback addresses.
var errRemote = errors.New("target is not a loopback address (pass AllowRemote / --allow-remote to permit it)")

// target parses and checks Config.URL.
func (c *Config) target(ctx context.Context) (target, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return target{}, fmt.Errorf("cannot parse url %q: %w", truncate(c.URL), err)
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("cannot use url %q: scheme %q is not supported (only http)", truncate(c.URL), u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return target{}, fmt.Errorf("cannot use url %q: no host", truncate(c.URL))
	}
	if port == "" {
		port = "80"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return target{}, fmt.Errorf("cannot use url %q: bad port %q", truncate(c.URL), port)
	}
	if !c.AllowRemote {
		if err := checkLoopback(ctx, host); err != nil {
			return target{}, fmt.Errorf("cannot use url %q: %w", truncate(c.URL), err)
		}
	}
	uri := u.RequestURI()
	if uri == "" {
		uri = "/"
	}
	return target{
		dialAddr:   net.JoinHostPort(host, port),
		hostHeader: u.Host,
		requestURI: uri,
	}, nil
}

// checkLoopback returns nil if host is a loopback IP literal, or the name
// "localhost" resolving to loopback addresses only.
func checkLoopback(ctx context.Context, host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().IsLoopback() {
			return nil
		}
		return errRemote
	}
	if !strings.EqualFold(host, "localhost") {
		return errRemote
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("cannot resolve %q: %w", host, err)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return errRemote
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("cannot resolve %q: no address", host)
	}
	return nil
}

// truncate shortens s for use in error messages.
func truncate(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		return s[:maxLen] + "..."
	}
	return s
}
