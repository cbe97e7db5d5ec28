package loadtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll engine (Config.Engine == EngineEpoll) offers the open loop of
// the goroutine engine with the same semantics and less CPU per request:
//
//   - Arrival i is due at start + i/rate. The connections wait in a FIFO
//     of idle connections (at first all of them, not yet connected); the
//     due arrival goes to the one idle the longest, which is what the
//     goroutine engine's free workers claiming tickets in turn amount to.
//     When no connection is idle the arrival waits for the next one to
//     free, and its latency still counts from its due time.
//   - One request in flight per connection; a connection is opened on its
//     first use (or after it was closed), with the same timeout on the
//     connect and then on the write and read of each request, the same
//     single retry on a fresh connection when a reused one turns out to
//     have been closed by the server, and the same reply parser and check.
//   - No request starts after Config.Duration or beyond
//     Config.MaxRequests; requests in flight then finish or time out.
//
// One goroutine, locked to its OS thread, does everything: it sleeps in
// epoll_pwait2 until the next due arrival or socket event (nanosecond
// timeout; epoll_pwait rounded up to the millisecond where the kernel
// lacks it) or, with Config.Tick, once a tick while requests are in
// flight; it then sends what is due, reads what is ready, and checks
// timeouts every epollScanEvery. No goroutine, timer or allocation per
// request.

// Bounds of the epoll engine.
const (
	// epollEvents is the most events taken from one epoll wait.
	epollEvents = 512
	// epollScanEvery is how often the connections are scanned for
	// expired timeouts and the context for cancellation: the precision
	// of Config.Timeout in this engine.
	epollScanEvery = 5 * time.Millisecond
)

// Connection states of the epoll engine.
const (
	connIdle       = iota // no request (connected or not: fd tells)
	connConnecting        // connect in progress, request waiting
	connWriting           // request partly written, waiting for EPOLLOUT
	connReading           // request written, waiting for its reply
)

// epollConn is one connection of the epoll engine.
type epollConn struct {
	fd      int    // -1 when closed
	gen     uint32 // incremented at each close, to recognise stale events
	state   uint8
	reused  bool // the request went out on a connection opened before it
	retried bool // the request was already resent once
	id      int
	cc      clientConn
	rd      fdReader
	wbuf    []byte
	wpos    int
	info    reqInfo
	due     time.Time
	expires time.Time // timeout of the current connect, or write and read
}

// fdReader reads a non-blocking socket for clientConn.
type fdReader struct{ fd int }

// Read reads what the socket holds: io.EOF at its end, errAgain when it
// holds nothing yet.
func (f *fdReader) Read(p []byte) (int, error) {
	for {
		n, err := rawIO(unix.SYS_READ, f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errAgain
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// rawIO reads or writes (trap SYS_READ or SYS_WRITE) the non-blocking
// socket fd as a raw system call: it never blocks, so the runtime's
// bookkeeping around a system call that might (a few percent of the
// engine's CPU) is not needed. It returns 0 and the error on failure.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// epollLoop is the state of the epoll engine. It is used by one goroutine.
type epollLoop struct {
	r       *runner
	epfd    int
	sa      unix.Sockaddr   // the target
	srcs    []unix.Sockaddr // Config.SourceAddrs, port 0
	family  int
	conns   []epollConn
	idle    []int32 // FIFO ring of idle connection indices
	idleHd  int     // index of the first idle connection in idle
	idleN   int     // idle connections
	busy    int     // connections with a request outstanding
	next    int64   // next arrival
	stopped bool    // no arrival is sent any more
	rng     *rand.Rand
	scratch []byte
	resp    response
	events  []unix.EpollEvent
	ts      unix.Timespec
	pwait2  bool
}

// runEpoll runs the open loop with the epoll engine on the calling
// goroutine, locked to its OS thread, until it is done or ctx is
// cancelled.
func (r *runner) runEpoll(ctx context.Context) error {
	l, err := newEpollLoop(ctx, r)
	if err != nil {
		return err
	}
	defer l.close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.run(ctx)
	return nil
}

func newEpollLoop(ctx context.Context, r *runner) (*epollLoop, error) {
	ap, err := resolveTarget(ctx, r.tgt.dialAddr)
	if err != nil {
		return nil, err
	}
	l := &epollLoop{
		r:      r,
		epfd:   -1,
		conns:  make([]epollConn, r.cfg.Users),
		idle:   make([]int32, r.cfg.Users),
		idleN:  r.cfg.Users,
		rng:    rand.New(rand.NewPCG(r.cfg.Seed, 0)),
		events: make([]unix.EpollEvent, epollEvents),
		pwait2: true,
	}
	l.sa, l.family = sockaddr(ap)
	for _, a := range r.cfg.SourceAddrs {
		sa, fam := sockaddr(netip.AddrPortFrom(a, 0))
		if fam != l.family {
			return nil, fmt.Errorf("cannot bind to %v: not of the target's address family", a)
		}
		l.srcs = append(l.srcs, sa)
	}
	for i := range l.conns {
		c := &l.conns[i]
		c.fd, c.id = -1, i
		l.idle[i] = int32(i)
	}
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("cannot create epoll instance: %w", err)
	}
	return l, nil
}

// resolveTarget returns the address to connect to: addr's IP literal, or
// the first address its host name resolves to (IPv4 first).
func resolveTarget(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("cannot parse address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("cannot parse port of %q: %w", addr, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("cannot resolve %q: %v", host, err)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), uint16(p)), nil
}

// sockaddr converts ap for the unix package.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}, unix.AF_INET6
}

// close closes every connection and the epoll instance.
func (l *epollLoop) close() {
	for i := range l.conns {
		l.closeConn(&l.conns[i])
	}
	if l.epfd >= 0 {
		_ = unix.Close(l.epfd)
		l.epfd = -1
	}
}

// run is the event loop.
func (l *epollLoop) run(ctx context.Context) {
	tick := l.r.cfg.Tick
	lastScan := time.Now()
	lastWake := lastScan
	full := false // the last wait filled l.events: more may be ready
	for {
		now := time.Now()
		if ctx.Err() != nil {
			return // abandoned: requests in flight are not counted
		}
		l.dispatch(now)
		if l.stopped && l.busy == 0 {
			return
		}
		if now.Sub(lastScan) >= epollScanEvery {
			l.expire(now)
			lastScan = now
		}
		wait := epollScanEvery
		if !l.stopped && l.idleN > 0 {
			wait = min(wait, max(l.r.due(l.next).Sub(now), 0))
		}
		var n int
		if tick > 0 && (l.busy > 0 || wait < tick) {
			// Requests in flight or an arrival soon: wake once a tick
			// and take every event ready then, rather than once an event.
			if d := tick - now.Sub(lastWake); d > 0 && !full {
				l.sleep(d)
			}
			n = l.wait(0)
		} else {
			n = l.wait(wait)
		}
		now = time.Now()
		lastWake = now
		full = n == len(l.events)
		for i := range n {
			l.handle(&l.events[i], now)
		}
	}
}

// sleep sleeps for d, as a raw system call (see wait).
func (l *epollLoop) sleep(d time.Duration) {
	l.ts = unix.NsecToTimespec(int64(d))
	_, _, _ = unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&l.ts)), 0, 0)
}

// wait waits up to d for socket events and returns how many are in
// l.events.
//
// The wait is a raw system call: the runtime does not see the loop block,
// so it neither hands the loop's P to another thread nor wakes its
// monitor thread every 20 us to do so, which cost more CPU than the
// requests themselves (seen with perf: futex, nanosleep and thread
// switches). Other goroutines still run: on other Ps, or on this one when
// the runtime preempts the loop, whose signal interrupts the wait (EINTR)
// at least every 10 ms; a wait never lasts longer than epollScanEvery.
func (l *epollLoop) wait(d time.Duration) int {
	var n uintptr
	var e unix.Errno
	if l.pwait2 {
		l.ts = unix.NsecToTimespec(int64(d))
		n, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(unsafe.Pointer(&l.ts)), 0, 0)
		if e == unix.ENOSYS {
			l.pwait2 = false // before Linux 5.11: millisecond timeouts
		}
	}
	if !l.pwait2 {
		ms := (d + time.Millisecond - 1) / time.Millisecond
		n, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(ms), 0, 0)
	}
	if e != 0 {
		return 0 // EINTR; anything else shows as timeouts
	}
	return int(n)
}

// dispatch sends the arrivals that are due on idle connections.
func (l *epollLoop) dispatch(now time.Time) {
	r := l.r
	for !l.stopped && l.idleN > 0 {
		if max := r.cfg.MaxRequests; max > 0 && l.next >= max {
			l.stopped = true
			return
		}
		if !now.Before(r.deadline) {
			l.stopped = true
			return
		}
		due := r.due(l.next)
		if due.After(r.deadline) {
			l.stopped = true
			return
		}
		if due.After(now) {
			return
		}
		l.next++
		c := &l.conns[l.idle[l.idleHd]]
		l.idleHd = (l.idleHd + 1) % len(l.idle)
		l.idleN--
		l.busy++
		c.info, c.due = r.rend.draw(l.rng), due
		c.wbuf, l.scratch = r.rend.appendRequest(c.wbuf[:0], l.scratch, c.info)
		c.retried = false
		l.send(c, now)
	}
}

// release returns c to the idle FIFO after its request completed or
// failed.
func (l *epollLoop) release(c *epollConn) {
	c.state = connIdle
	l.busy--
	l.idle[(l.idleHd+l.idleN)%len(l.idle)] = int32(c.id)
	l.idleN++
}

// send starts the exchange of c's request: on its connection if it has
// one, else after connecting.
func (l *epollLoop) send(c *epollConn, now time.Time) {
	if c.fd < 0 {
		c.reused = false
		if err := l.connect(c, now); err != nil {
			l.fail(c, err)
		}
		return
	}
	c.reused = true
	c.expires = now.Add(l.r.cfg.Timeout)
	c.wpos = 0
	l.write(c)
}

// connect opens a non-blocking connection for c and registers it.
func (l *epollLoop) connect(c *epollConn, now time.Time) error {
	fd, err := unix.Socket(l.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", err)}
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if len(l.srcs) > 0 {
		// See BindNoPort.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, l.srcs[c.id%len(l.srcs)]); err != nil {
			_ = unix.Close(fd)
			return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("bind", err)}
		}
	}
	err = unix.Connect(fd, l.sa)
	if err != nil && err != unix.EINPROGRESS {
		_ = unix.Close(fd)
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(c.id), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("epoll_ctl", err)}
	}
	c.fd = fd
	c.rd.fd = fd
	c.cc.resetSource(nil, &c.rd, nil)
	c.state = connConnecting
	c.expires = now.Add(l.r.cfg.Timeout)
	return nil
}

// connected finishes the connect of c and writes its request.
func (l *epollLoop) connected(c *epollConn, now time.Time) {
	soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	if err != nil {
		l.fail(c, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)})
		return
	}
	// The request nearly always goes out in one write: ask for EPOLLOUT
	// again only if it does not.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.id), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.fail(c, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("epoll_ctl", err)})
		return
	}
	c.expires = now.Add(l.r.cfg.Timeout)
	c.wpos = 0
	l.write(c)
}

// write writes what is left of c's request.
func (l *epollLoop) write(c *epollConn) {
	for c.wpos < len(c.wbuf) {
		n, err := rawIO(unix.SYS_WRITE, c.fd, c.wbuf[c.wpos:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if c.state != connWriting {
				c.state = connWriting
				l.interest(c, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP)
			}
			return
		case err != nil:
			l.ioError(c, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)})
			return
		}
		c.wpos += n
	}
	if c.state == connWriting && !l.interest(c, unix.EPOLLIN|unix.EPOLLRDHUP) {
		return // failed, and c released or resent
	}
	c.state = connReading
}

// interest changes the events c waits for. If it cannot, it fails the
// exchange (ioError) and returns false.
func (l *epollLoop) interest(c *epollConn, events uint32) bool {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.id), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.ioError(c, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("epoll_ctl", err)})
		return false
	}
	return true
}

// handle acts on one socket event.
func (l *epollLoop) handle(ev *unix.EpollEvent, now time.Time) {
	c := &l.conns[ev.Fd]
	if c.fd < 0 || uint32(ev.Pad) != c.gen {
		return // the connection was closed since
	}
	switch c.state {
	case connIdle:
		// A server closing an idle keep-alive connection (or sending
		// what nobody asked for): reconnect when it is next used.
		l.closeConn(c)
	case connConnecting:
		l.connected(c, now)
	case connWriting:
		if ev.Events&unix.EPOLLOUT != 0 {
			l.write(c)
		}
		if c.state == connWriting && ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.read(c, now) // shows the error
		}
	case connReading:
		l.read(c, now)
	}
}

// read parses c's reply from what the socket holds.
func (l *epollLoop) read(c *epollConn, now time.Time) {
	err := c.cc.readResponse(&l.resp)
	if err == errAgain {
		return
	}
	if err != nil {
		l.ioError(c, err)
		return
	}
	if l.r.account(c.id, c.due, now, &l.resp) {
		l.r.checkOne(l.resp.body, c.info)
	}
	if l.resp.close || l.r.cfg.NewConn {
		l.closeConn(c)
	}
	l.release(c)
}

// ioError handles a failed exchange on c: a request that met a reused
// connection the server had closed is resent once on a new connection,
// as the goroutine engine does; anything else fails the request.
func (l *epollLoop) ioError(c *epollConn, err error) {
	stale := c.reused && !c.retried && c.cc.buffered() == 0 && isStale(err)
	l.closeConn(c)
	if !stale {
		l.r.fail(1, err)
		l.release(c)
		return
	}
	l.r.st.retries.Add(1)
	c.retried = true
	l.send(c, time.Now())
}

// fail fails c's request by err and closes its connection.
func (l *epollLoop) fail(c *epollConn, err error) {
	l.closeConn(c)
	l.r.fail(1, err)
	l.release(c)
}

// expire fails the requests whose timeout has passed.
func (l *epollLoop) expire(now time.Time) {
	for i := range l.conns {
		c := &l.conns[i]
		if c.state != connIdle && !now.Before(c.expires) {
			op := "read"
			if c.state == connConnecting {
				op = "dial"
			}
			l.fail(c, &net.OpError{Op: op, Net: "tcp", Err: os.ErrDeadlineExceeded})
		}
	}
}

// closeConn closes c's socket, if open, keeping its buffers.
func (l *epollLoop) closeConn(c *epollConn) {
	if c.fd < 0 {
		return
	}
	_ = unix.Close(c.fd) // also removes it from the epoll instance
	c.fd, c.rd.fd = -1, -1
	c.gen++
}
