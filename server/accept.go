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
// does offer is Engine.Register with a net.Conn: it duplicates the
// connection's descriptor into an event loop (through its goroutine pool)
// and closes the original. So the listener is ours (a net.TCPListener on
// Go's poller), and an accept that fails for lack of descriptors or memory
// is counted (pricing_accept_errors_total), logged at most once per
// [acceptLogEvery], and retried after a back-off of [acceptBackoffMin]
// doubling to [acceptBackoffMax]; the pending connections wait in the
// kernel's accept queue meanwhile, and established connections are served
// throughout. gnet itself is started on a placeholder Unix socket in a
// private directory that is removed as soon as the loops run, so nothing
// can ever connect to it and gnet's accept never runs.
//
// The price is CPU per new connection (a dup(2), a close(2) and a goroutine
// hand-off that gnet's accept does not do); keep-alive traffic does not
// pay it. docs/RELIABILITY.md has the figures.
type acceptor struct {
	s    *Server
	ln   *net.TCPListener
	done chan struct{} // closed when run returns

	// pending holds the results of registrations still in progress, oldest
	// first: each holds two descriptors (the accepted one and gnet's
	// duplicate) until it completes, so at most maxPending (half the
	// descriptor headroom, see fdlimit.go) may be outstanding.
	pending    []<-chan gnet.RegisteredResult
	maxPending int

	lastLog time.Time
	failed  int // accept failures since the last log line
	// lastShort is when an accept last failed for lack of descriptors:
	// until fdProbeFor after it, hand makes sure gnet can duplicate the
	// descriptor before handing the connection over.
	lastShort time.Time

	stopOnce sync.Once
	stopCh   chan struct{} // closed by stop
}

const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = 200 * time.Millisecond
	acceptLogEvery   = 10 * time.Second
	fdProbeFor       = 10 * time.Second
)

// listenAPI binds the API listener. Keep-alive probes stay off, as they
// were with gnet's own listener.
func listenAPI(addr string) (*net.TCPListener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
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
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		a.reap(false)
		c, err := a.ln.AcceptTCP()
		if err == nil {
			backoff = 0
			a.hand(c)
			continue
		}
		select {
		case <-a.stopCh:
			if s.ctx.Err() == nil {
				a.drainQueue()
			}
			return
		default:
		}
		if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
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
		timer.Reset(backoff)
		select {
		case <-timer.C:
		case <-a.stopCh:
			// The next Accept fails at once (deadline passed) and
			// takes the stop branch above.
		case <-s.ctx.Done():
			return
		}
	}
}

// drainQueue hands over every connection already in the kernel's accept
// queue before the listener closes: closing it would reset them, and their
// clients may already have written a request. They are served like the
// others (with Connection: close, since the server is draining).
func (a *acceptor) drainQueue() {
	rc, err := a.ln.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(lfd uintptr) {
		for {
			nfd, _, err := unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch err {
			case nil:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			default:
				return // EAGAIN: the queue is empty
			}
			f := os.NewFile(uintptr(nfd), "")
			c, err := net.FileConn(f) // duplicates nfd
			_ = f.Close()
			if err != nil {
				continue
			}
			a.hand(c.(*net.TCPConn))
		}
	})
}

// hand registers c with an event loop; gnet closes c once it holds its
// own duplicate.
func (a *acceptor) hand(c *net.TCPConn) {
	s := a.s
	for len(a.pending) >= a.maxPending {
		a.reapOne(true)
	}
	// The kernel's buffers are per-connection memory too (charged to the
	// container's memory), and unsent output there is output the client
	// has not read: cap them like the buffers in user space (budget.go)
	// instead of letting autotuning grow them to megabytes per connection.
	_ = c.SetWriteBuffer(s.cfg.MaxOutboundBytes)
	_ = c.SetReadBuffer(s.cfg.MaxInboundBytes)
	if !a.lastShort.IsZero() && time.Since(a.lastShort) < fdProbeFor && !a.waitForSpareFD(c) {
		_ = c.Close() // the server is stopping
		return
	}
	ch, err := s.eng.Register(gnet.NewNetConnContext(context.Background(), c))
	if err != nil {
		_ = c.Close()
		s.metrics.AcceptErrors(metrics.AcceptRegister).Inc()
		a.logFailure(err, metrics.AcceptRegister)
		return
	}
	a.pending = append(a.pending, ch)
}

// waitForSpareFD returns once a descriptor is free for gnet's duplicate of
// c, backing off like a failed accept meanwhile, or false when the server
// stops first. Near the descriptor limit, the accept that succeeds can take
// the last free descriptor; gnet's duplicate would then fail and gnet would
// close the connection under a client that has already written its request
// (a reset). Waiting instead keeps the request in the socket until the
// connection can be served. It probes with a duplicate of its own, closed
// at once.
func (a *acceptor) waitForSpareFD(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	backoff := acceptBackoffMin
	for {
		var derr error
		if cerr := rc.Control(func(fd uintptr) {
			var nfd int
			if nfd, derr = unix.Dup(int(fd)); derr == nil {
				_ = unix.Close(nfd)
			}
		}); cerr != nil {
			return true
		}
		if derr == nil {
			return true
		}
		reason := acceptErrorReason(derr)
		a.s.metrics.AcceptErrors(reason).Inc()
		a.logFailure(derr, reason)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-a.stopCh:
			t.Stop()
			return false
		case <-a.s.ctx.Done():
			t.Stop()
			return false
		}
		backoff = min(backoff*2, acceptBackoffMax)
	}
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
	_ = ok // a closed channel without a result: gnet closed the connection
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
