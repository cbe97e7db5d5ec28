package main

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/server"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit: every
// API connection is a descriptor, and the soft limit (often 1024) is a
// default for interactive shells, not for a server. Go (1.19 and later)
// already does this at start on Linux; doing it here as well makes the
// behaviour explicit and logs the limits the connection limit is derived
// from (server.MaxConnsForFDLimit).
func raiseFileLimit(log *slog.Logger) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		log.Warn("cannot read the file-descriptor limit", "err", err)
		return
	}
	if r.Cur < r.Max {
		was := r.Cur
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			log.Warn("cannot raise the file-descriptor limit", "soft", was, "hard", r.Max, "err", err)
			return
		}
	}
	log.Info("file-descriptor limit", "soft", r.Cur, "hard", r.Max,
		"default_max_conns", server.MaxConnsForFDLimit(r.Cur))
}
