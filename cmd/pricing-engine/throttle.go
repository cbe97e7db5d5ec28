package main

import (
	"sync"
	"time"
)

// logThrottle lets a repeated failure be logged at most once a minute
// (callers still count every failure). The zero value is ready; it is
// safe for concurrent use.
type logThrottle struct {
	mu   sync.Mutex
	last time.Time // when a line was last allowed
}

// allow reports whether a line may be logged at now: the first time, and
// then once a minute or more has passed since the last line allowed.
func (t *logThrottle) allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < time.Minute {
		return false
	}
	t.last = now
	return true
}
