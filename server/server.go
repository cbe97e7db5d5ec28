package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/trace"
)

// Deps are the collaborators a Server serves with.
type Deps struct {
	Engine  pricer.Engine
	Metrics *metrics.Set
	Logger  *slog.Logger
	// Docs answers /docs and /openapi.json on both ports, from bytes
	// read once; nil answers 404.
	Docs *apidocs.Docs
	// Admin adds routes to the admin listener (http.ServeMux patterns,
	// e.g. "GET /rules"); nil adds none.
	Admin map[string]http.Handler
	// AdminAPI, if set, serves every path under /admin/ on the admin
	// listener, ahead of the route table (whose path cleaning would
	// redirect "..", so the handler sees raw paths and refuses them
	// itself). nil answers 404 there. The API port never serves /admin/.
	AdminAPI http.Handler
	// AdminTLS, if set, makes the admin listener serve HTTPS only, with
	// this configuration (its GetCertificate may change the certificate
	// while serving). The API port is unaffected.
	AdminTLS *tls.Config
	// ReadyDetail, if set, returns text appended to the admin listener's
	// /readyz body while ready (e.g. "ruleset_version: X\n").
	ReadyDetail func() string
	// NotReady, if set, returns why the server cannot serve yet ("" once
	// it can; e.g. a store that has not answered yet): /readyz answers 503
	// with that reason on both listeners meanwhile. Called per /readyz,
	// from any goroutine.
	NotReady func() string
	// Tracer takes request identity and spans; nil: request ids only.
	Tracer *trace.Tracer
	// AccessLog, if set, gets one line per API request it samples.
	AccessLog *trace.AccessLog
}

// Server serves the pricing API on gnet event loops and the admin routes
// on net/http. Create it with New, then Start it; Shutdown stops it.
type Server struct {
	cfg            Config
	engine         pricer.Engine
	metrics        *metrics.Set
	metricsHandler http.Handler
	log            *slog.Logger
	docs           *apidocs.Docs
	deps           Deps

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
	upOnce    sync.Once
	loopsUp   chan struct{} // closed at the first tick: the loops run
	ln        apiListener   // takes the API connections (loopaccept.go, accept.go)

	loopBytes sync.Map // *loop -> *atomic.Int64: bytes buffered at its last scan

	admin     *http.Server
	adminLn   net.Listener
	adminDone chan error

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
		deps:           deps,
		bootCh:         make(chan struct{}),
		loopsUp:        make(chan struct{}),
		runErr:         make(chan error, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.deps.Tracer == nil {
		tr, err := trace.New(trace.Config{})
		if err != nil {
			return nil, fmt.Errorf("cannot configure server: %w", err)
		}
		s.deps.Tracer = tr
	}
	s.jobs.New = s.newJob
	s.h = &handler{srv: s}
	s.resume = s.h.resumeConn
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.date.refresh(time.Now())
	s.metrics.SetLookupsWaitingLimit(cfg.MaxWaiting)
	pool, err := ants.NewPool(cfg.PoolSize, ants.WithNonblocking(true), ants.WithExpiryDuration(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot create worker pool: %w", err)
	}
	s.pool = pool
	return s, nil
}

// Start binds both listeners and starts serving. It returns once the event
// loops run, so Addr and AdminAddr are known.
//
// The event loops accept on their own listeners when the descriptor limit
// makes that safe, else the acceptor takes the connections (loopaccept.go
// and accept.go say when and why).
func (s *Server) Start() error {
	s.loopCount = s.cfg.Loops
	if s.loopCount == 0 {
		// Not gnet's multicore default, which is runtime.NumCPU(): the
		// host's CPUs, blind to a container's CPU limit. GOMAXPROCS
		// follows the limit (Go 1.25+), the CPU affinity mask and an
		// explicit GOMAXPROCS variable.
		s.loopCount = runtime.GOMAXPROCS(0)
	}
	if s.cfg.AdminAddr != "" {
		if err := s.startAdmin(); err != nil {
			return err
		}
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.loopCount),
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
		gnet.WithReadBufferCap(loopReadBytes),
		gnet.WithLogger(gnetLogger{s.log}),
	}
	var err error
	if s.loopsMayAccept() {
		err = s.startLoopAccept(opts)
	} else {
		err = s.startAcceptor(opts)
	}
	if err != nil {
		s.stopAdmin(context.Background())
		return err
	}
	go func() {
		// The loops stopped (Shutdown, or a failure): stop accepting.
		<-s.ctx.Done()
		s.ln.stop()
	}()
	s.log.Info("listening", "api", s.addr.String(), "admin", s.AdminAddr(), "loops", s.loopCount,
		"accept", s.ln.mode(), "max_conns", s.cfg.MaxConns, "max_buffered_bytes", s.cfg.MaxBufferedBytes)
	return nil
}

// loopsMayAccept reports whether the event loops can accept on their own
// listeners without ever running out of descriptors (loopAcceptFits).
func (s *Server) loopsMayAccept() bool {
	soft, _, err := FDLimit()
	if err != nil {
		return false
	}
	open, err := openDescriptors()
	if err != nil {
		return false
	}
	return loopAcceptFits(s.cfg.MaxConns, s.loopCount, soft, open)
}

// startLoopAccept starts the event loops on SO_REUSEPORT listeners of the
// API address, one per loop.
func (s *Server) startLoopAccept(opts []gnet.Option) error {
	addr, release, err := reservePort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.cfg.Addr, err)
	}
	defer release()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot resolve %q: %w", addr, err)
	}
	// The kernel's buffers are capped on the listeners, which every
	// accepted connection inherits (listenAPI says why); TCP_NODELAY
	// likewise.
	opts = append(opts,
		gnet.WithSocketSendBuffer(s.cfg.MaxOutboundBytes),
		gnet.WithSocketRecvBuffer(s.cfg.MaxInboundBytes),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	)
	if err := s.runLoops("tcp://"+addr, opts); err != nil {
		return err
	}
	fds, err := listenersOn(tcp)
	if err != nil || len(fds) != s.loopCount {
		// Without them the port can only close with the loops: a drain
		// then serves late connections instead of refusing them.
		s.log.Warn("cannot find the event loops' listeners", "found", len(fds), "loops", s.loopCount, "err", err)
	}
	s.addr = tcp
	s.ln = &loopListener{s: s, fds: fds}
	return nil
}

// startAcceptor starts the event loops on a placeholder and the acceptor
// on the API address.
func (s *Server) startAcceptor(opts []gnet.Option) error {
	ln, err := listenAPI(s.cfg.Addr, s.cfg.MaxOutboundBytes, s.cfg.MaxInboundBytes)
	if err != nil {
		return fmt.Errorf("cannot listen on %q: %w", s.cfg.Addr, err)
	}
	acc, err := newAcceptor(s, ln, reserveDescriptors())
	if err != nil {
		_ = ln.Close()
		return err
	}
	// The loops listen on a placeholder only: connections come from the
	// acceptor (accept.go explains why).
	loopsAddr, cleanup, err := placeholderAddr()
	if err != nil {
		_ = ln.Close()
		acc.closeReserve()
		return err
	}
	defer cleanup()
	if err := s.runLoops(loopsAddr, opts); err != nil {
		_ = ln.Close()
		acc.closeReserve()
		return err
	}
	cleanup()
	s.addr = ln.Addr()
	s.ln = acc
	go acc.run()
	return nil
}

// runLoops starts gnet on addr and returns once the loops run.
func (s *Server) runLoops(addr string, opts []gnet.Option) error {
	go func() {
		err := gnet.Run(s.h, addr, opts...)
		s.runErr <- err
		s.cancel()
	}()
	// OnBoot runs before the loops exist; the first tick runs once they do.
	for _, up := range []chan struct{}{s.bootCh, s.loopsUp} {
		select {
		case <-up:
		case err := <-s.runErr:
			s.runErr <- err
			return fmt.Errorf("cannot start event loops: %w", err)
		}
	}
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
func (s *Server) Ready() bool { ok, _ := s.readiness(); return ok }

// readiness reports whether /readyz answers 200, and the body line of a
// 503: draining, or the reason of Deps.NotReady.
func (s *Server) readiness() (bool, string) {
	if s.notReady.Load() {
		return false, bodyDraining
	}
	if s.deps.NotReady != nil {
		if why := s.deps.NotReady(); why != "" {
			return false, "not ready: " + why + "\n"
		}
	}
	return true, ""
}

// Done is closed when the event loops have stopped.
func (s *Server) Done() <-chan struct{} { return s.ctx.Done() }

// Shutdown drains and stops the server: /readyz fails at once; requests are
// served normally for DrainDelay; then the listener stops accepting (after
// taking the connections already queued), the next reply on each
// connection carries Connection: close and closes it, connections idle for
// DrainIdleGrace are closed, nothing is closed in the middle of a request,
// in-flight requests finish, and the loops stop. It returns ctx's error
// if ctx ends first (the loops are then stopped regardless).
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
	// Every further reply closes its connection, also on connections
	// still waiting in the accept queue, which are taken before the
	// listener closes. Connections idle for DrainIdleGrace are closed by
	// the loops' scans.
	s.closingConns.Store(true)
	s.ln.stop()
	s.log.Info("stopped accepting")
	s.tick()

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
	s.flushLoops()
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
	s.upOnce.Do(func() { close(s.loopsUp) })
	s.date.refresh(time.Now())
	s.loops.Range(func(_, v any) bool {
		lp := v.(*loop)
		_ = lp.el.Execute(s.ctx, lp.scanRun)
		return true
	})
}

// buffered returns the counter of bytes buffered for lp's connections.
func (s *Server) buffered(lp *loop) *atomic.Int64 {
	if v, ok := s.loopBytes.Load(lp); ok {
		return v.(*atomic.Int64)
	}
	v, _ := s.loopBytes.LoadOrStore(lp, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// bufferedTotal sums the bytes buffered for every loop's connections, as of
// each loop's last scan.
func (s *Server) bufferedTotal() int64 {
	var t int64
	s.loopBytes.Range(func(_, v any) bool {
		t += v.(*atomic.Int64).Load()
		return true
	})
	return t
}

// connLimitReply is written to connections refused at the limit.
func (s *Server) connLimitReply() []byte {
	ids := trace.NewIDGen()
	rep := reply{id: ids.TraceID()}
	body := cannedTooManyConns.apply(&rep, nil)
	return appendReply(nil, &rep, s.date.get(), body)
}

// gnetLogger routes gnet's log lines to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.l.Error(fmt.Sprintf(format, args...)) }
