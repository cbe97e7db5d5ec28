package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// onHangup runs fn for every SIGHUP until ctx ends, one call at a time on
// a goroutine of its own. SIGHUP is caught from this call on (its default
// action would end the process), so call it before the server is
// announced. Several callers each get every SIGHUP.
func onHangup(ctx context.Context, fn func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				fn()
			}
		}
	}()
}
