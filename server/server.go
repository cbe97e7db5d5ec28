package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// Deps are the collaborators a Server serves with.
type Deps struct {
	Engine  *pricing.Engine
	Metrics *metrics.Set
	Logger  *slog.Logger
	// Docs answers /docs and /openapi.json on both ports, from bytes
	// read once; nil answers 404.
	Docs *apidocs.Docs
}

// Server serves the pricing API on gnet event loops and the admin routes
// on net/http. Create it with New, then Start it; Shutdown stops it.
type Server struct {
	cfg            Config
	engine         *pricing.Engine
	metrics        *metrics.Set
	metricsHandler http.Handler
	log            *slog.Logger
	docs           *apidocs.Docs

	pool   *ants.Pool
	jobs   sync.Pool
	jobsWG sync.WaitGroup
	loops  sync.Map // gnet.EventLoop -> *loop
	date   dateCache

	ctx    context.Context // cancelled when the server has stopped
	cancel context.CancelFunc

	conns        atomic.Int64
	notReady     atomic.Bool // /readyz fails
	closingConns atomic.Bool // every reply closes its connection

	bootOnce  sync.Once
	bootCh    chan struct{}
	eng       gnet.Engine
	runErr    chan error
	addr      net.Addr
	loopCount int // event loops, set by Start

	admin     *http.Server
	adminLn   net.Listener
	adminDone chan error

	decoders decoderPool

	h      *handler
	resume gnet.AsyncCallback // h.resumeConn, bound once

	shutdownOnce sync.Once
}

// New checks cfg and builds a Server; nothing listens until Start.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot configure server: %w", err)
	}
	if deps.Engine == nil || deps.Metrics == nil {
		return nil, errors.New("cannot configure server: engine and metrics are required")
	}
	s := &Server{
		cfg:            cfg,
		engine:         deps.Engine,
		metrics:        deps.Metrics,
		metricsHandler: deps.Metrics.Handler(),
		log:            deps.Logger,
		docs:           deps.Docs,
		bootCh:         make(chan struct{}),
		runErr:         make(chan error, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.jobs.New = s.newJob
	s.h = &handler{srv: s}
	s.resume = s.h.resumeConn
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.date.refresh(time.Now())
	pool, err := ants.NewPool(cfg.PoolSize, ants.WithNonblocking(true), ants.WithExpiryDuration(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot create worker pool: %w", err)
	}
	s.pool = pool
	return s, nil
}

// Start binds both listeners and starts serving. It returns once the event
// loops run, so Addr and AdminAddr are known.
func (s *Server) Start() error {
	addr, release, err := reservePort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.cfg.Addr, err)
	}
	defer release()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot resolve %q: %w", addr, err)
	}
	s.addr = tcp

	if s.cfg.AdminAddr != "" {
		if err := s.startAdmin(); err != nil {
			return err
		}
	}

	s.loopCount = s.cfg.Loops
	if s.loopCount == 0 {
		// Not gnet's multicore default, which is runtime.NumCPU(): the
		// host's CPUs, blind to a container's CPU limit. GOMAXPROCS
		// follows the limit (Go 1.25+), the CPU affinity mask and an
		// explicit GOMAXPROCS variable.
		s.loopCount = runtime.GOMAXPROCS(0)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.loopCount),
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.log}),
	}
	go func() {
		err := gnet.Run(s.h, "tcp://"+addr, opts...)
		s.runErr <- err
		s.cancel()
	}()
	select {
	case <-s.bootCh:
	case err := <-s.runErr:
		s.runErr <- err
		s.stopAdmin(context.Background())
		return fmt.Errorf("cannot start event loops on %s: %w", addr, err)
	}
	s.log.Info("listening", "api", s.addr.String(), "admin", s.AdminAddr(), "loops", s.loopCount)
	return nil
}

func (s *Server) booted(eng gnet.Engine) {
	s.bootOnce.Do(func() {
		s.eng = eng
		close(s.bootCh)
	})
}

// Loops is the number of event loops serving the API port: Config.Loops, or
// runtime.GOMAXPROCS(0) when that is 0. It is known once Start returned.
func (s *Server) Loops() int { return s.loopCount }

// Addr is the API listener's address (with the chosen port).
func (s *Server) Addr() net.Addr { return s.addr }

// AdminAddr is the admin listener's address, or "" when disabled.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Ready reports whether /readyz answers 200.
func (s *Server) Ready() bool { return !s.notReady.Load() }

// Done is closed when the event loops have stopped.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

// Shutdown drains and stops the server: /readyz fails at once; requests are
// served normally for DrainDelay; then every reply closes its connection,
// idle connections are closed, in-flight requests finish, and the loops
// stop. It returns ctx's error if ctx ends first (the loops are then
// stopped regardless).
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdownOnce.Do(func() { err = s.shutdown(ctx) })
	return err
}

func (s *Server) shutdown(ctx context.Context) error {
	s.notReady.Store(true)
	s.log.Info("draining", "delay", s.cfg.DrainDelay.String(), "open_connections", s.conns.Load())
	var ctxErr error
	if s.cfg.DrainDelay > 0 {
		t := time.NewTimer(s.cfg.DrainDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		t.Stop()
	}
	// Stop accepting, then make every further reply close its
	// connection and close the idle ones.
	if n, err := closeListeners(s.addr.(*net.TCPAddr).Port); err != nil {
		s.log.Warn("cannot stop accepting; connections arriving now are served with Connection: close", "err", err)
	} else {
		s.log.Info("stopped accepting", "listeners", n)
	}
	s.closingConns.Store(true)
	s.tick() // close idle connections now rather than at the next tick

	// Wait for connections to finish their last replies.
	poll := time.NewTicker(20 * time.Millisecond)
	for ctxErr == nil && s.conns.Load() > 0 {
		select {
		case <-poll.C:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
	}
	poll.Stop()

	jobsDone := make(chan struct{})
	go func() { s.jobsWG.Wait(); close(jobsDone) }()
	if ctxErr == nil {
		select {
		case <-jobsDone:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.eng.Stop(stopCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("stopping event loops", "err", err)
	}
	<-s.ctx.Done()
	s.stopAdmin(stopCtx)
	s.pool.Release()
	if ctxErr != nil {
		return fmt.Errorf("cannot drain within the deadline (%d connections left): %w", s.conns.Load(), ctxErr)
	}
	s.log.Info("stopped")
	return nil
}

// tick refreshes the Date header and schedules a timeout scan on every loop.
func (s *Server) tick() {
	s.date.refresh(time.Now())
	s.metrics.PoolBusy().Set(float64(s.pool.Running()))
	s.loops.Range(func(_, v any) bool {
		lp := v.(*loop)
		_ = lp.el.Execute(s.ctx, lp.scanRun)
		return true
	})
}

// connLimitReply is written to connections refused at the limit.
func (s *Server) connLimitReply() []byte {
	rep := reply{status: 503, contentType: contentJSON, close: true, retryAfter: 1}
	return appendReply(nil, &rep, s.date.get(), appendDetailBody(nil, "too many connections"))
}

// reservePort resolves port 0 to a concrete free port and keeps it bound
// (with SO_REUSEPORT, not listening) until release, so that every event
// loop's SO_REUSEPORT listener binds the same port.
func reservePort(addr string) (string, func(), error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, err
	}
	if port != "0" {
		return addr, func() {}, nil
	}
	ip := net.ParseIP(host)
	if host == "" {
		ip = net.IPv4zero
		host = "0.0.0.0"
	}
	if ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return "", nil, fmt.Errorf("cannot resolve host %q: %v", host, err)
		}
		ip = ips[0]
		host = ip.String()
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip4 := ip.To4(); ip4 != nil {
		a := &unix.SockaddrInet4{}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("cannot create socket: %w", err)
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			_ = unix.Close(fd)
			return "", nil, fmt.Errorf("cannot set socket option: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return "", nil, fmt.Errorf("cannot bind: %w", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return "", nil, fmt.Errorf("cannot read bound address: %w", err)
	}
	var p int
	switch b := bound.(type) {
	case *unix.SockaddrInet4:
		p = b.Port
	case *unix.SockaddrInet6:
		p = b.Port
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), func() { _ = unix.Close(fd) }, nil
}

// gnetLogger routes gnet's log lines to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
