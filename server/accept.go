package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// acceptor owns the API listener: it accepts connections on its own
// goroutine and hands each to one of gnet's event loops with
// [gnet.Engine.Register].
//
// Why not gnet's own accept: gnet v2.9.7 treats any accept(2) error other
// than EAGAIN, EINTR, ECONNRESET and ECONNABORTED as fatal
// (acceptor_unix.go returns errors.ErrAcceptSocket, the poller stops, the
// loop exits and takes the engine and every connection with it). EMFILE
// and ENFILE are such errors, so reaching the file-descriptor limit killed
// the process, and gnet offers no hook to intercept the error, no option
// to pause a listener and no way to hand it a raw descriptor. What it
// does offer is Engine.Register with a net.Conn: on a goroutine of its
// pool it duplicates the connection's descriptor, adds the duplicate to an
// event loop, and only then closes the original. So the listener is ours
// (a net.TCPListener on Go's poller), and an accept that fails for lack of
// descriptors or memory is counted (pricing_accept_errors_total), logged
// at most once per [acceptLogEvery], and retried after a back-off of
// [acceptBackoffMin] doubling to [acceptBackoffMax]; the pending
// connections wait in the kernel's accept queue meanwhile, and established
// connections are served throughout. gnet itself is started on a
// placeholder Unix socket in a private directory that is removed as soon
// as the loops run, so nothing can ever connect to it and gnet's accept
// never runs.
//
// The descriptor reserve: a connection being handed over holds two
// descriptors for a while (ours and gnet's duplicate). Had accept taken
// the last free descriptor, gnet's duplicate would fail and gnet would
// close a connection whose client may already have written a request (a
// reset, not a wait). So the acceptor keeps descriptors in reserve: it
// accepts only while it holds one, and releases one just before each
// Register, for gnet's duplicate. A registration that completes (gnet has
// closed the original) gives its descriptor back to the reserve. At the
// limit it is therefore accept that fails with EMFILE, leaving the
// connection queued in the kernel, never gnet's duplicate. The reserve is
// at most reserveSize descriptors minus the registrations in flight; see
// fdlimit.go for how it fits the headroom.
//
// One gap is the acceptor's own: the kernel gives accept the lowest free
// descriptor, which may be one just released for a duplicate gnet has not
// made yet. When descriptors may be short (connections past the default
// limit for the descriptor limit, or any sign of shortage in the last
// [shortFor]: a failed accept, a reserve that could not be refilled), the
// acceptor therefore waits for each registration to complete before it
// accepts the next connection. What remains: between the release and
// gnet's duplicate, another thread of the process (the admin listener, a
// store reconnect) may take the released descriptor.
//
// The price is CPU per new connection (two dup(2)s and two close(2)s and
// a goroutine hand-off that gnet's accept does not do); keep-alive traffic
// does not pay it. docs/BENCHMARKS.md ("new-conn") has the figures.
type acceptor struct {
	s    *Server
	ln   *net.TCPListener
	done chan struct{} // closed when run returns

	// pending holds the registrations still in progress, oldest first.
	pending []<-chan gnet.RegisteredResult
	// reserve holds the reserved descriptors (duplicates of anchor);
	// len(reserve)+len(pending) <= reserveSize.
	reserve     []int
	reserveSize int
	anchor      int // an eventfd the reserve duplicates; -1 if none
	// roomy is the number of connections (open or being registered)
	// below which descriptors are assumed plentiful: the default
	// connection limit for the descriptor limit.
	roomy int64
	// lastShort is when descriptors last ran short (see tight).
	lastShort time.Time

	lastLog time.Time
	failed  int // accept failures since the last log line

	stopOnce sync.Once
	stopCh   chan struct{} // closed by stop
}

const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = 200 * time.Millisecond
	acceptLogEvery   = 10 * time.Second
	// shortFor is how long registrations stay serialized after
	// descriptors ran short.
	shortFor = 10 * time.Second
)

// newAcceptor returns the acceptor of ln with a reserve of reserveSize
// descriptors (at least 1). Call run on its own goroutine.
func newAcceptor(s *Server, ln *net.TCPListener, reserveSize int) (*acceptor, error) {
	anchor, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cannot create the acceptor's descriptor reserve: %w", err)
	}
	a := &acceptor{s: s, ln: ln, done: make(chan struct{}), stopCh: make(chan struct{}),
		reserveSize: max(reserveSize, 1), anchor: anchor, roomy: int64(defaultMaxConns())}
	a.refill()
	return a, nil
}

// listenAPI binds the API listener. Keep-alive probes stay off, as they
// were with gnet's own listener.
//
// The kernel's buffers are per-connection memory too (charged to the
// container's memory), and unsent output there is output the client has
// not read: they are capped like the buffers in user space (budget.go),
// sndbuf and rcvbuf bytes, instead of letting autotuning grow them to
// megabytes per connection. They are set on the listening socket, before
// listen, so that every accepted connection inherits them from its
// listener (no system call per connection, and the receive window's scale
// is negotiated with the final buffer size).
func listenAPI(addr string, sndbuf, rcvbuf int) (*net.TCPListener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		})
		if err == nil && serr != nil {
			err = fmt.Errorf("cannot size the listener's socket buffers: %w", serr)
		}
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// placeholderAddr returns a gnet address nobody can reach once cleanup has
// run: a Unix socket in a fresh private directory.
func placeholderAddr() (addr string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "pricing-engine-")
	if err != nil {
		return "", nil, fmt.Errorf("cannot create a directory for the event loops' placeholder socket: %w", err)
	}
	return "unix://" + filepath.Join(dir, "loops.sock"), func() { _ = os.RemoveAll(dir) }, nil
}

// run accepts until stop is called or the server stops.
func (a *acceptor) run() {
	defer close(a.done)
	defer a.closeReserve()
	defer func() {
		// Wait for the registrations under way, unless the loops have
		// stopped: gnet would never complete them.
		if a.s.ctx.Err() == nil {
			a.reap(true)
		}
	}()
	defer func() { _ = a.ln.Close() }()
	s := a.s
	var backoff time.Duration
	for {
		if !a.ensureReserve() {
			a.stopped()
			return
		}
		c, err := a.ln.AcceptTCP()
		if err == nil {
			backoff = 0
			a.hand(c)
			continue
		}
		if a.isStopping() || errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
			a.stopped()
			return
		}
		reason := acceptErrorReason(err)
		if reason == metrics.AcceptFDLimit || reason == metrics.AcceptSystemFDLimit {
			a.lastShort = time.Now()
		}
		s.metrics.AcceptErrors(reason).Inc()
		a.logFailure(err, reason)
		if backoff == 0 {
			backoff = acceptBackoffMin
		} else if backoff *= 2; backoff > acceptBackoffMax {
			backoff = acceptBackoffMax
		}
		if !a.sleep(backoff) {
			a.stopped()
			return
		}
	}
}

// isStopping reports whether stop has been called.
func (a *acceptor) isStopping() bool {
	select {
	case <-a.stopCh:
		return true
	default:
		return false
	}
}

// stopped runs as run returns: after stop (not a failure of the loops),
// the connections already queued are handed over first.
func (a *acceptor) stopped() {
	if a.isStopping() && a.s.ctx.Err() == nil {
		a.drainQueue()
	}
}

// sleep waits d, or less if the server stops; it reports whether the
// acceptor should go on.
func (a *acceptor) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.stopCh:
		return false
	case <-a.s.ctx.Done():
		return false
	}
}

// ensureReserve returns once the acceptor holds a reserved descriptor:
// completed registrations give theirs back; when none is in flight and
// no descriptor is free (other parts of the process took them), it backs
// off like a failed accept. It returns false if the server stops first.
func (a *acceptor) ensureReserve() bool {
	backoff := acceptBackoffMin
	for {
		a.reap(false)
		a.refill()
		if len(a.reserve) > 0 {
			return true
		}
		if len(a.pending) > 0 {
			a.reapOne(true)
			continue
		}
		a.lastShort = time.Now()
		a.s.metrics.AcceptErrors(metrics.AcceptFDLimit).Inc()
		a.logFailure(errors.New("no descriptor free to reserve for the next connection"), metrics.AcceptFDLimit)
		if !a.sleep(backoff) {
			return false
		}
		backoff = min(backoff*2, acceptBackoffMax)
	}
}

// refill tops the reserve up to reserveSize minus the registrations in
// flight, as far as free descriptors allow.
func (a *acceptor) refill() {
	for len(a.reserve)+len(a.pending) < a.reserveSize {
		fd, err := unix.FcntlInt(uintptr(a.anchor), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			a.lastShort = time.Now()
			return
		}
		a.reserve = append(a.reserve, fd)
	}
}

// release frees one reserved descriptor for gnet's duplicate.
func (a *acceptor) release() {
	n := len(a.reserve) - 1
	_ = unix.Close(a.reserve[n])
	a.reserve = a.reserve[:n]
}

// closeReserve closes the reserve and its anchor.
func (a *acceptor) closeReserve() {
	for len(a.reserve) > 0 {
		a.release()
	}
	if a.anchor >= 0 {
		_ = unix.Close(a.anchor)
		a.anchor = -1
	}
}

// drainQueue hands over every connection already in the kernel's accept
// queue before the listener closes: closing it would reset them, and their
// clients may already have written a request. They are served like the
// others (with Connection: close, since the server is draining). It
// accepts without Go's poller, until the queue is empty (EAGAIN), so that
// the listener closes right after the queue was last seen empty: a client
// whose handshake completes in between is the only one reset.
func (a *acceptor) drainQueue() {
	rc, err := a.ln.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(lfd uintptr) {
		for {
			a.reap(false)
			a.refill()
			for len(a.reserve) == 0 && len(a.pending) > 0 {
				a.reapOne(true)
				a.refill()
			}
			if len(a.reserve) == 0 {
				return // no descriptor to hand a connection over with
			}
			nfd, _, err := unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch err {
			case nil:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			default:
				return // EAGAIN: the queue is empty; or out of descriptors
			}
			// net.FileConn duplicates nfd: give it a reserved descriptor,
			// and take nfd's back once it is closed.
			a.release()
			f := os.NewFile(uintptr(nfd), "")
			c, err := net.FileConn(f)
			_ = f.Close()
			a.refill()
			if err != nil {
				continue
			}
			if len(a.reserve) == 0 {
				_ = c.Close()
				return
			}
			a.hand(c.(*net.TCPConn))
		}
	})
}

// hand registers c with an event loop, using a reserved descriptor (the
// caller made sure there is one); gnet closes c once it holds its own
// duplicate.
func (a *acceptor) hand(c *net.TCPConn) {
	s := a.s
	// c's kernel buffers are sized already: inherited from the listener
	// (listenAPI).
	a.release()
	ch, err := s.eng.Register(gnet.NewNetConnContext(context.Background(), c))
	if err != nil {
		_ = c.Close()
		s.metrics.AcceptErrors(metrics.AcceptRegister).Inc()
		a.logFailure(err, metrics.AcceptRegister)
		return
	}
	a.pending = append(a.pending, ch)
	if a.tight() {
		// Do not let the next accept take the descriptor released for
		// gnet's duplicate: wait until gnet has made it.
		a.reap(true)
	}
}

// tight reports whether descriptors may be short: connections (open or
// being registered) past the roomy count, or a shortage in the last
// shortFor.
func (a *acceptor) tight() bool {
	return a.s.conns.Load()+int64(len(a.pending)) >= a.roomy ||
		(!a.lastShort.IsZero() && time.Since(a.lastShort) < shortFor)
}

// reap collects finished registrations; with wait, all of them.
func (a *acceptor) reap(wait bool) {
	for len(a.pending) > 0 && a.reapOne(wait) {
	}
}

// reapOne collects the oldest registration if it finished (or waits for
// it) and reports whether it did.
func (a *acceptor) reapOne(wait bool) bool {
	var res gnet.RegisteredResult
	var ok bool
	if wait {
		res, ok = <-a.pending[0]
	} else {
		select {
		case res, ok = <-a.pending[0]:
		default:
			return false
		}
	}
	if ok {
		// gnet sends the result before it closes our descriptor and then
		// the channel: wait for the close, so that the descriptor is free
		// when the reserve is refilled.
		for range a.pending[0] {
		}
	}
	n := copy(a.pending, a.pending[1:])
	a.pending[n] = nil
	a.pending = a.pending[:n]
	if res.Err != nil {
		a.s.metrics.AcceptErrors(metrics.AcceptRegister).Inc()
		a.logFailure(res.Err, metrics.AcceptRegister)
	}
	return true
}

// logFailure logs the first failure and then at most one line per
// acceptLogEvery with the count since the previous line.
func (a *acceptor) logFailure(err error, reason string) {
	a.failed++
	now := time.Now()
	if !a.lastLog.IsZero() && now.Sub(a.lastLog) < acceptLogEvery {
		return
	}
	a.s.log.Warn("cannot accept connections; backing off, established connections are still served",
		"reason", reason, "err", err, "failures", a.failed, "since", a.sinceLabel(now))
	a.lastLog = now
	a.failed = 0
}

func (a *acceptor) sinceLabel(now time.Time) string {
	if a.lastLog.IsZero() {
		return "start"
	}
	return now.Sub(a.lastLog).Round(time.Second).String()
}

// acceptErrorReason maps an accept error to the reason label of
// pricing_accept_errors_total.
func acceptErrorReason(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return metrics.AcceptFDLimit
	case errors.Is(err, syscall.ENFILE):
		return metrics.AcceptSystemFDLimit
	case errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		return metrics.AcceptNoMemory
	}
	return metrics.AcceptOther
}

// stop stops accepting: the connections already queued in the kernel are
// taken and handed over, then the listener is closed. It returns when the
// accept goroutine and the registrations it started are done. Safe to
// call more than once and from any goroutine.
func (a *acceptor) stop() {
	a.stopOnce.Do(func() {
		close(a.stopCh)
		_ = a.ln.SetDeadline(time.Now()) // interrupts a waiting Accept
	})
	<-a.done
}

func (a *acceptor) mode() string { return acceptModeAcceptor }
