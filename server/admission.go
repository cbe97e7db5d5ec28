package server

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Admission control on time (Config.QueueTarget).
//
// What a request waits before work is the time between its bytes becoming
// readable and the loop getting to its connection: when the loop is
// saturated, the readable connections queue in the kernel's epoll ready
// list and each waits behind the others. That wait cannot be read per
// request (gnet reads with read(2), without receive timestamps), but the
// loop's own wake-ups wait in the same queue: the event fd that runs
// drain becomes readable when the first completion of a batch is pushed,
// and drain measures how long the loop took to get to it. That sojourn is
// the loop's queueing delay, sampled once per drain.
//
// The controller is CoDel-like: it keeps the minimum sojourn of each
// admissionInterval (a burst that the loop absorbs within the interval
// leaves a small minimum and is not shed). When the minimum exceeds the
// target the loop is holding a standing queue: the share of new price
// requests answered 503 + Retry-After at once (before decoding or looking
// anything up) rises by shedStep per interval, up to shedMax; when the
// minimum falls below half the target it falls by shedStep per interval.
// Shed requests are spread evenly (an accumulator, not a random draw),
// and the share is a share of items: a batch weighs its items
// (pricer.Engine.BatchItems), so that a batch of 100 items is not shed as
// rarely as one price request. Requests are shed apart by size class
// (1 item, 2-3, 4-7, ... up to the most a batch holds), each class with its own
// accumulator that a request adds its weight x the share to and is
// refused, as a whole, once that reaches its weight, paying its weight:
// in every class, and so overall, the items refused are the shed share
// of the items asked, whatever the mix or order of price requests and
// batches (one accumulator for all would let a regular pattern, such as
// a batch after every four price requests, refuse every batch or none).
// The deadline of an admitted request counts from when its bytes arrived
// (lp.now in OnTraffic), so waiting on lookups cannot outlast it either.
//
// Without asynchronous lookups (the memory source) there are no samples
// and nothing is shed: an inline answer costs about as much as a 503.
const (
	admissionInterval = 100 * time.Millisecond
	shedStep          = 0.2
	shedMax           = 0.95 // a few requests still sample the delay
)

// admission is one loop's controller; only its loop touches it, except
// wakeAt.
type admission struct {
	wakeAt      atomic.Int64              // when the first completion of the pending drain was pushed (Unix ns)
	windowStart int64                     // start of the current interval (Unix ns)
	minSojourn  int64                     // minimum event fd sojourn in the current interval (ns); -1: no sample
	minJob      int64                     // minimum job sojourn (lookups answered to reply) in the current interval (ns); -1: no sample
	shed        float64                   // share of price items answered 503 at once
	acc         [admissionClasses]float64 // shedding accumulators, by size class
}

// admissionClasses is the number of size classes of requests (by powers
// of two of their items): enough for the largest batch the engine
// accepts (a test holds it to pricing.MaxBatchItems); a larger weight
// would share the last class.
const admissionClasses = 8

// observeSojourn records d, the time a completed job waited in the server
// from when its lookups answered (as the source tells: a timer's due time,
// a store's reply) to the drain that replies to it. This also counts the
// wait of the lookup's completion for a CPU (with few CPUs the loop's
// goroutine keeps the timers and lookup goroutines waiting while it is
// busy), which the event fd's sojourn does not see: that one starts when
// the first completion was pushed. The back end's own latency is left
// out: it is bounded by the lookup deadline, and a slow store is not a
// queue of the server's (counted, it made a store slower than the target
// shed requests, cache hits included, on a loop with nothing queued). The
// two minimums are kept apart and the larger one decides: either queue
// standing is a queue (the event fd's sojourn stays short while the
// completions wait for a CPU before they are pushed).
func (lp *loop) observeSojourn(d int64) {
	if a := &lp.adm; a.minJob < 0 || d < a.minJob {
		a.minJob = d
	}
}

// sample records the sojourn of one drain and, once per interval, adjusts
// the shed share.
func (lp *loop) sampleSojourn(now int64) {
	a := &lp.adm
	target := int64(lp.srv.cfg.QueueTarget)
	if target <= 0 {
		return
	}
	if at := a.wakeAt.Swap(0); at != 0 {
		if d := now - at; a.minSojourn < 0 || d < a.minSojourn {
			a.minSojourn = d
		}
	}
	if a.windowStart == 0 {
		a.windowStart, a.minSojourn, a.minJob = now, -1, -1
		return
	}
	if now-a.windowStart < int64(admissionInterval) {
		return
	}
	switch m := max(a.minSojourn, a.minJob); {
	case m > target:
		a.shed = min(a.shed+shedStep, shedMax)
	case m < target/2: // including no sample: no evidence of a queue
		a.shed = max(a.shed-shedStep, 0)
	}
	a.windowStart, a.minSojourn, a.minJob = now, -1, -1
}

// admit reports whether a new price request (rt routePrice) or batch
// (routePrices, weighed by the items of body) is admitted; the refused
// ones are counted and answered 503 by the caller. body is only read, and
// only while some share is shed.
func (lp *loop) admit(rt route, body []byte) bool {
	a := &lp.adm
	if a.shed == 0 {
		return true
	}
	if now := lp.now.UnixNano(); now-a.windowStart >= 2*int64(admissionInterval) {
		lp.sampleSojourn(now) // no drain for a while: the queue is gone
		if a.shed == 0 {
			return true
		}
	}
	w := 1
	if rt == routePrices {
		w = lp.srv.engine.BatchItems(body)
	}
	acc := &a.acc[min(bits.Len(uint(w)), admissionClasses)-1]
	*acc += a.shed * float64(w)
	if *acc < float64(w) {
		return true
	}
	*acc -= float64(w)
	if lp.shedCount == nil {
		lp.shedCount = lp.srv.metrics.Rejected(rejectQueueDelay)
	}
	lp.shedCount.Inc()
	return false
}

// rejectQueueDelay is the reason label of requests shed by admission
// control.
const rejectQueueDelay = "queue_delay"
