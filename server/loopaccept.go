package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// apiListener is what takes new connections on the API port: the event
// loops' own accept (loopListener) or the acceptor (accept.go).
type apiListener interface {
	// stop stops accepting: the connections already queued in the
	// kernel are taken and served, then the port is closed. Safe to
	// call more than once and from any goroutine.
	stop()
	// mode names the way connections are accepted, for the log.
	mode() string
}

const (
	acceptModeLoops    = "loops"
	acceptModeAcceptor = "acceptor"
)

// loopListener: the event loops accept on their own SO_REUSEPORT
// listeners (one per loop), in the loop's thread, the way gnet is built
// to; a new connection costs an accept4 and an epoll_ctl and no
// hand-off.
//
// gnet treats an accept(2) that fails with EMFILE or ENFILE as fatal (see
// acceptor), so the event loops accept only when that cannot happen by
// construction: the connection limit leaves room, below RLIMIT_NOFILE, for
// every other descriptor the process holds (loopAcceptFits), and a
// connection past the limit is refused in OnOpen and closed before its
// loop accepts again. The process's descriptors are then bounded by
//
//	open at start + 3 per loop (epoll, eventfd, listener)
//	+ MaxConns + 2 per loop (one accepted and not yet refused; one past
//	  OnClose, whose descriptor gnet closes right after)
//	+ the admin listener's connections (admin.go bounds them)
//	+ a share for the rest: store connections, files, /proc reads
//
// Otherwise (an operator set --max-conns beyond what the descriptors
// allow, or the loops' own descriptors do not fit the headroom) the server
// uses the acceptor, which survives EMFILE.
type loopListener struct {
	s    *Server
	fds  []int // the loops' listening sockets, found at start
	once sync.Once
}

func (l *loopListener) mode() string { return acceptModeLoops }

// loopAcceptFits reports whether the loops' own accept can never run out
// of descriptors (see loopListener): maxConns connections with loops event
// loops under a soft RLIMIT_NOFILE of nofile, with open descriptors open
// now. share is what the admin listener's connections and the process's
// other descriptors get each.
func loopAcceptFits(maxConns, loops int, nofile uint64, open int) bool {
	share := uint64(fdShare(nofile))
	need := uint64(maxConns) + uint64(open) + 5*uint64(loops) + 2*share
	return need <= nofile
}

// fdShare is the number of descriptors set aside, under a soft
// RLIMIT_NOFILE of nofile, for the admin listener's connections, and as
// many again for the process's other descriptors when the loops accept:
// a quarter of the headroom.
func fdShare(nofile uint64) int {
	return int(fdHeadroom(nofile) / 4)
}

// openDescriptors counts the process's open descriptors.
func openDescriptors() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("cannot list open descriptors: %w", err)
	}
	return len(entries) - 1, nil // without the directory's own
}

// listenersOn returns the listening TCP sockets of this process bound to
// addr: the loops' listeners under SO_REUSEPORT.
func listenersOn(addr *net.TCPAddr) ([]int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("cannot list open descriptors: %w", err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if isListenerOn(fd, addr) {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// isListenerOn reports whether fd is a listening TCP socket bound to addr
// (the same port and IP: the admin listener may share the port on another
// address).
func isListenerOn(fd int, addr *net.TCPAddr) bool {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	// Go's own listeners are MPTCP where the kernel has it (Go 1.24+).
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || (v != unix.IPPROTO_TCP && v != unix.IPPROTO_MPTCP) {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	var ip net.IP
	var port int
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = net.IP(a.Addr[:]), a.Port
	case *unix.SockaddrInet6:
		ip, port = net.IP(a.Addr[:]), a.Port
	default:
		return false
	}
	if port != addr.Port {
		return false
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		// ":8000" or "0.0.0.0:8000": gnet may bind the IPv6 wildcard
		// (dual stack) or the IPv4 one.
		return ip.IsUnspecified()
	}
	return ip.Equal(addr.IP)
}

// stop takes the connections queued on every loop's listener and closes
// the listeners, without stopping the loops.
//
// gnet has no call for that, and closing a listener under a loop would
// free its descriptor number for reuse while gnet still polls and later
// closes it. So each listener is swapped, with dup3(2), for a placeholder:
// a listening Unix socket in a directory that is removed at once, so that
// nothing can connect to it. The swap drops the last reference to the TCP
// listener: the kernel closes it (and takes it out of the loop's epoll
// set), while the descriptor number stays valid until gnet closes it at
// Stop. A loop that still sees an event for it accepts on the placeholder
// and gets EAGAIN, which gnet ignores. Before the swap, the connections
// already queued are accepted here and registered with a loop
// (Engine.Register, the acceptor's path; a drain can afford it); a client
// whose handshake completes between the queue's last EAGAIN and the swap
// is the only one reset.
func (l *loopListener) stop() {
	l.once.Do(l.close)
}

func (l *loopListener) close() {
	s := l.s
	ph, err := placeholderSocket()
	if err != nil {
		// Without a placeholder the listeners stay open until the loops
		// stop; the connections still arriving are served, with
		// Connection: close while draining.
		s.log.Warn("cannot stop accepting before the event loops stop", "err", err)
		return
	}
	defer unix.Close(ph)
	for _, fd := range l.fds {
		if s.ctx.Err() == nil {
			l.drain(fd)
		}
		if err := unix.Dup3(ph, fd, unix.O_CLOEXEC); err != nil {
			s.log.Warn("cannot close an event loop's listener", "fd", fd, "err", err)
		}
	}
}

// drain accepts the connections queued on the listener fd and registers
// them with the loops.
func (l *loopListener) drain(fd int) {
	s := l.s
	for {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			if err != unix.EAGAIN {
				s.metrics.AcceptErrors(acceptErrorReason(err)).Inc()
			}
			return
		}
		f := os.NewFile(uintptr(nfd), "")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			s.metrics.AcceptErrors(acceptErrorReason(err)).Inc()
			continue
		}
		ch, err := s.eng.Register(gnet.NewNetConnContext(context.Background(), c))
		if err != nil {
			_ = c.Close()
			s.metrics.AcceptErrors(metrics.AcceptRegister).Inc()
			continue
		}
		if res := <-ch; res.Err != nil {
			s.metrics.AcceptErrors(metrics.AcceptRegister).Inc()
		}
		for range ch { // closed once gnet closed its copy of c
		}
	}
}

// placeholderSocket returns a non-blocking listening Unix socket that
// nobody can connect to: it is bound in a private directory removed
// before it returns.
func placeholderSocket() (int, error) {
	dir, err := os.MkdirTemp("", "pricing-engine-")
	if err != nil {
		return -1, fmt.Errorf("cannot create a directory for the placeholder listener: %w", err)
	}
	defer os.RemoveAll(dir)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("cannot create the placeholder listener: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, "closed.sock")}); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("cannot bind the placeholder listener: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("cannot listen on the placeholder listener: %w", err)
	}
	return fd, nil
}

// reservePort resolves port 0 to a concrete free port and keeps it bound
// (with SO_REUSEPORT, not listening, so it takes no connections) until
// release, so that every event loop's SO_REUSEPORT listener binds the same
// port. It returns the address to give gnet.
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
		return "", nil, fmt.Errorf("cannot create a socket to reserve a port: %w", err)
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			_ = unix.Close(fd)
			return "", nil, fmt.Errorf("cannot set a socket option to reserve a port: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return "", nil, fmt.Errorf("cannot bind: %w", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return "", nil, fmt.Errorf("cannot read the bound address: %w", err)
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
