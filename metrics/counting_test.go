package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOffLoopGauges follows requests through the waiting and pool
// transitions: each gauge counts only what its name says, and in flight
// is their sum.
func TestOffLoopGauges(t *testing.T) {
	s := New(BuildInfo{})
	s.SetLookupsWaitingLimit(7)
	type want struct{ inFlight, waiting, queued, busy float64 }
	steps := []struct {
		name string
		do   func()
		want want
	}{
		{"nothing", func() {}, want{}},
		{"two wait on lookups", func() { s.LookupWaitBegan(); s.LookupWaitBegan() }, want{2, 2, 0, 0}},
		{"three tasks queued", func() { s.PoolTaskQueued(); s.PoolTaskQueued(); s.PoolTaskQueued() }, want{5, 2, 3, 0}},
		{"one task refused", s.PoolTaskRefused, want{4, 2, 2, 0}},
		{"two tasks started", func() { s.PoolTaskStarted(); s.PoolTaskStarted() }, want{4, 2, 0, 2}},
		{"one wait ended", s.LookupWaitEnded, want{3, 1, 0, 2}},
		{"one task done", s.PoolTaskDone, want{2, 1, 0, 1}},
		{"all done", func() { s.PoolTaskDone(); s.LookupWaitEnded() }, want{}},
	}
	for _, st := range steps {
		st.do()
		got := want{testutil.ToFloat64(s.inFlight), testutil.ToFloat64(s.waiting), testutil.ToFloat64(s.queueDepth), testutil.ToFloat64(s.busy)}
		if got != st.want {
			t.Fatalf("after %s: (in flight, waiting, queued, busy) = %v, want %v", st.name, got, st.want)
		}
	}
	if got := testutil.ToFloat64(s.waitingLimit); got != 7 {
		t.Fatalf("pricing_lookups_waiting_limit = %v, want 7", got)
	}
}
