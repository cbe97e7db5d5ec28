package server

import (
	"golang.org/x/sys/unix"
)

// File-descriptor headroom: the descriptors the process needs besides its
// API connections. The default connection limit is the soft RLIMIT_NOFILE
// minus this headroom, capped at [DefaultMaxConns]:
//
//   - event loops: an epoll and an eventfd each, plus gnet's placeholder
//     listener; Go's own poller (an epoll, an eventfd); the API and admin
//     listeners;
//   - admin connections (scrapes, probes, pprof), store connections (a few
//     per Redis node), data and rules files, /proc reads by the process
//     collector;
//   - the acceptor's descriptor reserve and the connections being handed
//     to an event loop: together at most twice [reserveDescriptors], a
//     quarter of the headroom (accept.go explains the reserve).
//
// The headroom is an eighth of the limit, at least [minFDHeadroom] and at
// most [maxFDHeadroom]. At the smallest headroom (128) the reserve is 32,
// so the reserve and the registrations in flight take at most 64 and the
// rest (about 20 descriptors at start: stdio, pollers, listeners, the
// reserve's anchor) fits in the other half.
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
