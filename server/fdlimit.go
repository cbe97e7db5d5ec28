package server

import (
	"golang.org/x/sys/unix"
)

// File-descriptor headroom: the descriptors the process needs besides its
// API connections. The default connection limit is the soft RLIMIT_NOFILE
// minus this headroom, capped at [DefaultMaxConns]:
//
//   - event loops: an epoll, an eventfd and a listener each (or gnet's
//     placeholder listener under the acceptor); Go's own poller (an epoll,
//     an eventfd); the admin listener;
//   - admin connections (scrapes, probes, pprof): at most [fdShare], a
//     quarter of the headroom (admin.go bounds them);
//   - store connections (a few per Redis node), data and rules files, /proc
//     reads by the process collector;
//   - with the acceptor only: its descriptor reserve and the connections
//     being handed to an event loop, together at most twice
//     [reserveDescriptors], a quarter of the headroom (accept.go explains
//     the reserve).
//
// The headroom is an eighth of the limit, at least [minFDHeadroom] and at
// most [maxFDHeadroom]. Whether the event loops may accept themselves is
// decided against the same shares (loopAcceptFits).
const (
	minFDHeadroom = 128
	maxFDHeadroom = 4096
)

// fdHeadroom is the headroom for a soft RLIMIT_NOFILE of nofile.
func fdHeadroom(nofile uint64) uint64 {
	return min(max(nofile/8, minFDHeadroom), maxFDHeadroom)
}

// reserveDescriptors is the size of the acceptor's descriptor reserve for
// the current limit: a quarter of the headroom, at least 8 and at most
// 256. It also bounds the registrations in flight.
func reserveDescriptors() int {
	soft, _, err := FDLimit()
	if err != nil {
		return 64
	}
	return reserveFor(soft)
}

// reserveFor is reserveDescriptors for a soft limit of nofile.
func reserveFor(nofile uint64) int {
	return int(min(max(fdHeadroom(nofile)/4, 8), 256))
}

// MaxConnsForFDLimit is the default connection limit for a soft
// RLIMIT_NOFILE of nofile: nofile minus the headroom, at least 1 and at
// most DefaultMaxConns.
func MaxConnsForFDLimit(nofile uint64) int {
	h := fdHeadroom(nofile)
	if nofile <= h {
		return 1
	}
	return int(min(nofile-h, DefaultMaxConns))
}

// FDLimit returns the process's soft and hard RLIMIT_NOFILE.
func FDLimit() (soft, hard uint64, err error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, err
	}
	return r.Cur, r.Max, nil
}

// defaultMaxConns derives the connection limit from the current soft
// RLIMIT_NOFILE (DefaultMaxConns when it cannot be read).
func defaultMaxConns() int {
	soft, _, err := FDLimit()
	if err != nil {
		return DefaultMaxConns
	}
	return MaxConnsForFDLimit(soft)
}
