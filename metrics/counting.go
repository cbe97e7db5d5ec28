package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// offLoop counts the requests taken off their event loop and not yet
// answered, by where they are: waiting on lookups (no goroutine each),
// queued on the worker pool, or running on a pool worker. Every
// transition is an atomic add or two; the gauges derived from it are read
// at scrape time, so counting costs the request path no more than that.
// It is safe for concurrent use.
type offLoop struct {
	waiting atomic.Int64 // price requests waiting on their lookups
	queued  atomic.Int64 // pool tasks submitted, not started
	busy    atomic.Int64 // pool tasks running on a worker
	limit   atomic.Int64 // the bound on waiting (Config.MaxWaiting)
}

// countGauge returns a GaugeFunc that reads f (clamped at 0: a scrape between
// the two adds of a transition must not show a negative count).
func countGauge(name, help string, f func() int64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
		func() float64 { return float64(max(f(), 0)) })
}

// LookupWaitBegan counts a price request that waits on its lookups: it
// holds no goroutine, its Source completes it by callback.
func (s *Set) LookupWaitBegan() { s.off.waiting.Add(1) }

// LookupWaitEnded uncounts a request counted by LookupWaitBegan (its
// lookups completed, or nobody will ever answer it).
func (s *Set) LookupWaitEnded() { s.off.waiting.Add(-1) }

// PoolTaskQueued counts a task submitted to the worker pool.
func (s *Set) PoolTaskQueued() { s.off.queued.Add(1) }

// PoolTaskRefused uncounts a task counted by PoolTaskQueued that the pool
// refused.
func (s *Set) PoolTaskRefused() { s.off.queued.Add(-1) }

// PoolTaskStarted moves a queued task to the running ones; a worker calls
// it when it takes the task.
func (s *Set) PoolTaskStarted() {
	s.off.busy.Add(1) // first: in flight may read one high, never low
	s.off.queued.Add(-1)
}

// PoolTaskDone uncounts a running task; its worker calls it when done.
func (s *Set) PoolTaskDone() { s.off.busy.Add(-1) }

// SetLookupsWaitingLimit records the bound on price requests waiting on
// lookups (pricing_lookups_waiting_limit), for alerts that compare the
// two.
func (s *Set) SetLookupsWaitingLimit(n int) { s.off.limit.Store(int64(n)) }
