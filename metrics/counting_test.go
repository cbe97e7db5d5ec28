package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPoolWorkersBusy follows requests through submit, start and finish:
// busy is what a worker has started and not finished, never idle workers.
func TestPoolWorkersBusy(t *testing.T) {
	s := New(BuildInfo{})
	submit := func() { s.InFlight().Inc(); s.PoolQueueDepth().Inc() }
	start := func() { s.PoolQueueDepth().Dec() }
	finish := func() { s.InFlight().Dec() }
	steps := []struct {
		name string
		do   func()
		busy float64
	}{
		{"nothing", func() {}, 0},
		{"three submitted", func() { submit(); submit(); submit() }, 0},
		{"two started", func() { start(); start() }, 2},
		{"one finished", finish, 1},
		{"third started", start, 2},
		{"all finished", func() { finish(); finish() }, 0},
	}
	for _, st := range steps {
		st.do()
		if got := testutil.ToFloat64(s.busy); got != st.busy {
			t.Fatalf("after %s: pricing_pool_workers_busy = %v, want %v", st.name, got, st.busy)
		}
	}
	if got := testutil.ToFloat64(s.inFlight); got != 0 {
		t.Fatalf("pricing_requests_in_flight = %v, want 0", got)
	}
}
