package server

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeListeners stops the API listener from accepting: it finds every
// listening TCP socket of this process bound to port (one per event loop
// under SO_REUSEPORT) and releases it by duplicating /dev/null over its
// descriptor.
//
// gnet v2.9 has no call that stops accepting while keeping the loops and
// their connections alive. shutdown(2) on a listening socket would make
// accept fail with EINVAL, which gnet treats as fatal for the whole loop;
// close(2) would free the descriptor number for reuse before gnet closes it
// again at Stop. dup2(2) swaps the socket for /dev/null atomically: the
// socket's last reference goes, so the kernel stops accepting on it and
// removes it from the loop's epoll set, while the descriptor number stays
// valid until gnet closes it. Connections still in the accept queue are
// reset, as with any listener that closes.
func closeListeners(port int) (closed int, err error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("cannot list file descriptors: %w", err)
	}
	devNull, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("cannot open %s: %w", os.DevNull, err)
	}
	defer unix.Close(devNull)
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd == devNull {
			continue
		}
		if !isListenerOn(fd, port) {
			continue
		}
		if err := unix.Dup3(devNull, fd, unix.O_CLOEXEC); err != nil {
			return closed, fmt.Errorf("cannot release listener fd %d: %w", fd, err)
		}
		closed++
	}
	return closed, nil
}

// isListenerOn reports whether fd is a listening TCP socket bound to port.
func isListenerOn(fd, port int) bool {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == port
	case *unix.SockaddrInet6:
		return a.Port == port
	}
	return false
}
