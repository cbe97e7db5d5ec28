// Package testwait polls, in tests, for state that shows only by asking
// (a metric, a pushed change, a reconnection): every wait ends on the
// evidence, and its bound only turns a hang into a failure.
package testwait

import (
	"testing"
	"time"
)

// interval is how often a condition is polled.
const interval = 2 * time.Millisecond

// Until polls cond until it holds (true) or timeout has passed (false).
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// For polls cond until it holds, and fails t with what when timeout
// passes first.
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("%s: not true after %s", what, timeout)
	}
}
