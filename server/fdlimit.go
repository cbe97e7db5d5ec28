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
//   - connections being handed to an event loop: each holds two
//     descriptors for a moment, at most half the headroom at once
//     ([pendingRegistrations]).
//
// The headroom is an eighth of the limit, at least [minFDHeadroom] and at
// most [maxFDHeadroom].
const (
	minFDHeadroom = 128
	maxFDHeadroom = 4096
)

// fdHeadroom is the headroom for a soft RLIMIT_NOFILE of nofile.
func fdHeadroom(nofile uint64) uint64 {
	return min(max(nofile/8, minFDHeadroom), maxFDHeadroom)
}

// pendingRegistrations bounds the accepted connections not yet registered
// with an event loop: half the headroom of the current limit, at least 16
// and at most 1024.
func pendingRegistrations() int {
	soft, _, err := FDLimit()
	if err != nil {
		return 64
	}
	return int(min(max(fdHeadroom(soft)/2, 16), 1024))
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
