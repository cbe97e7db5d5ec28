package server

import (
	"context"
	"time"

	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/metrics"
)

// The asynchronous lookup path. A price or batch request whose lookups do
// not answer at once becomes a job that waits, with no goroutine of its
// own, until the loop's pricing handle calls its Exchange's Done (for a
// batch: once its last item answered). Done pushes the job onto its loop's
// completion stack (lock-free: a compare-and-swap on the head). drain
// takes every completion at once, makes the replies, and resumes each
// connection concerned once, so that its replies go out in one write, in
// request order behind and before inline answers (the connection's
// pending queue keeps the order).
//
// Waking: the loop is asked to drain through its pump (one Execute until
// the drain runs; gnet writes its event fd once until the task runs). A
// lookup source that can complete on the loop (lookup.Pumped: the latency
// profile's timers, the Redis store's replies) keeps the answers that
// arrive together and pumps once for all of them; drain first flushes the
// pricing handle, which calls their Done on the loop, then drains: the
// answers of one timer tick or one Redis round trip are replied to in one
// wake-up, with one write per connection. Done on the loop (inTurn) pushes
// without pumping. Other sources call Done on their own goroutines: the
// push that finds the stack empty, outside a drain, pumps.
//
// Flushing: a pricing handle whose lookups wait for the next Flush
// (pricer.Loop.Kept: a networked store gathers the misses of one
// iteration) makes the first request left pending in an iteration
// schedule one flush task (also through Execute), which runs after the
// iteration's reads, so a networked store sends all of them in one round
// trip; the task drains too. A source that takes each lookup at once (the
// latency profile) costs the iteration no task and no event fd write.

// dispatchPrice serves a price request (rt routePrice) or a batch request
// (routePrices) on the loop's pricing handle: answered at once (a cache
// hit, a refused body) the reply is placed now; otherwise the request
// waits as a pending job. Past Config.MaxWaiting requests waiting on
// lookups, the request is answered 503 at once.
func (cn *conn) dispatchPrice(out []byte, rep *reply, req *httpparse.Request, method string, rt route) []byte {
	lp := cn.lp
	s := lp.srv
	if s.h.waiting.Load() >= int64(s.cfg.MaxWaiting) {
		s.metrics.Rejected(metrics.RejectWaitingLimit).Inc()
		return cn.answerCanned(out, rep, cannedOverloaded, method, rt.endpoint())
	}
	j := lp.getJob()
	j.xt.On = lp.wantNotes(rep)
	if j.xt.On {
		rep.notes = j.xt
	}
	// Everything Done's side reads is set before the lookups begin.
	j.kind = rt
	j.cn, j.lp = cn, lp
	j.rep = *rep
	j.method = method
	j.start = lp.now
	j.close = rep.close
	var done bool
	if rt == routePrices {
		done = lp.pl.ServeBatch(j.x, req.Body, lp.now)
	} else {
		done = lp.pl.Serve(j.x, req.Body, lp.now)
	}
	if done {
		rep.status, rep.retryAfter = j.xr.Status, j.xr.RetryAfter
		out = cn.answer(out, rep, j.xr.Body, method, rt.endpoint())
		lp.releaseJob(j)
		return out
	}
	// The pricing handle owns j.x now; the job waits for its Done.
	s.h.waiting.Add(1)
	s.metrics.LookupWaitBegan()
	s.jobsWG.Add(1)
	if lp.pl.Kept() {
		lp.scheduleFlush()
	}
	if rep.close {
		cn.closing = true
	}
	cn.pending = append(cn.pending, j)
	return out
}

// scheduleFlush makes the loop flush its lookups once, after the reads of
// the current iteration.
func (lp *loop) scheduleFlush() {
	if lp.flushQueued || lp.pumpQueued.Load() {
		// A queued drain runs after the iteration's reads too, and
		// flushes first.
		return
	}
	lp.flushQueued = true
	if err := lp.el.Execute(context.Background(), lp.flushRun); err != nil {
		// The loops are stopping: flush now rather than never.
		lp.flushQueued = false
		lp.pl.Flush()
	}
}

// flush runs on the loop (scheduled by scheduleFlush): it sends the
// iteration's lookups and drains what completed.
func (lp *loop) flush() {
	lp.flushQueued = false
	lp.drain()
}

// lookedUp is the done of the job's Exchange: it runs on whatever goroutine the
// lookups completed on (the loop's own, inside drain, for a pumped
// source), and hands the job to its loop.
func (j *job) lookedUp() {
	lp := j.lp
	for {
		head := lp.completions.Load()
		j.next = head
		if lp.completions.CompareAndSwap(head, j) {
			if head == nil && !lp.inTurn.Load() {
				lp.pump()
			}
			return
		}
	}
}

// pump asks the loop to run drain, from any goroutine; asks made before
// the drain begins are one. It reports false when the loops have stopped.
func (lp *loop) pump() bool {
	if !lp.pumpQueued.CompareAndSwap(false, true) {
		return true
	}
	lp.adm.wakeAt.Store(time.Now().UnixNano())
	if err := lp.el.Execute(context.Background(), lp.drainRun); err != nil {
		// The loops have stopped (Shutdown's deadline passed): nobody
		// will write these replies. Account for them so that nothing
		// waits on them.
		s := lp.srv
		for j := lp.completions.Swap(nil); j != nil; j = j.next {
			s.h.waiting.Add(-1)
			s.metrics.LookupWaitEnded()
			s.jobsWG.Done()
		}
		lp.pumpQueued.Store(false)
		return false
	}
	return true
}

// drain runs on the loop: it flushes the pricing handle (a pumped source
// completes its answered lookups there, on the loop), makes the replies of
// every completed job, then resumes each connection concerned once (one
// write each).
func (lp *loop) drain() {
	lp.pumpQueued.Store(false)
	lp.inTurn.Store(true)
	lp.pl.Flush()
	head := lp.completions.Swap(nil)
	lp.now = time.Now()
	now := lp.now.UnixNano()
	if head == nil {
		lp.sampleSojourn(now)
		lp.endTurn()
		return
	}
	var fifo *job // reversed: completion order
	for head != nil {
		next := head.next
		head.next = fifo
		fifo, head = head, next
	}
	for j := fifo; j != nil; {
		next := j.next
		j.next = nil
		lp.complete(j, now)
		j = next
	}
	lp.sampleSojourn(now)
	h := lp.srv.h
	for i, cn := range lp.touched {
		lp.touched[i] = nil
		cn.touched = false
		if !cn.closed {
			_ = h.resumeConn(cn.gc, nil)
		}
	}
	lp.touched = lp.touched[:0]
	lp.tl.EndShared() // the store round trips of the replies made here
	if lp.al != nil {
		lp.al.Flush() // the lines of the replies made here
	}
	lp.endTurn()
}

// endTurn ends a drain: completions pushed by other goroutines while it
// ran did not pump, so it pumps for them.
func (lp *loop) endTurn() {
	lp.inTurn.Store(false)
	if lp.completions.Load() != nil {
		lp.pump()
	}
}

// complete makes the reply of a job whose lookups are done and marks it
// done; an orphan (its connection closed meanwhile) is released. now is
// the drain's time (Unix ns), for the job's queueing delay.
func (lp *loop) complete(j *job, now int64) {
	s := lp.srv
	s.h.waiting.Add(-1)
	s.metrics.LookupWaitEnded()
	defer s.jobsWG.Done()
	if j.orphan {
		lp.pl.Discard(j.x)
		lp.releaseJob(j)
		return
	}
	lp.finishPrice(j)
	lp.observeSojourn(now - j.queuedSince())
	j.done.Store(true)
	if cn := j.cn; !cn.touched {
		cn.touched = true
		lp.touched = append(lp.touched, cn)
	}
}

// queuedSince returns when j began to wait in the server's own queues
// (Unix ns): when its lookups answered, as the source tells (the pricing
// handle copies it to the reply), or, when the source does not tell, when
// its request was read. Time spent waiting on the back end is bounded by
// the lookup deadline and is not a queue of the server's: counting it
// would make a slow store shed requests, cache hits included, on a loop
// with nothing queued.
func (j *job) queuedSince() int64 {
	if a := j.xr.Answered; !a.IsZero() && a.After(j.start) {
		return a.UnixNano()
	}
	return j.start.UnixNano()
}

// finishPrice builds the reply of j. A panic (in the pricing step) is
// answered 500 and closes the connection after the replies before it.
func (lp *loop) finishPrice(j *job) {
	s := lp.srv
	defer func() {
		if r := recover(); r != nil {
			j.answerPanic(r)
			lp.durations.Observer(j.method, j.kind.endpoint(), j.rep.status).Observe(lp.now.Sub(j.start).Seconds())
		}
	}()
	lp.pl.Complete(j.x)
	j.rep.status, j.rep.retryAfter = j.xr.Status, j.xr.RetryAfter
	if s.closingConns.Load() {
		j.rep.close, j.close = true, true
	}
	if j.rep.status == 503 {
		s.metrics.Rejected(metrics.RejectLookupError).Inc()
	}
	j.bb.B = appendReply(j.bb.B[:0], &j.rep, s.date.get(), j.xr.Body)
	o, d := lp.durations.Observer(j.method, j.kind.endpoint(), j.rep.status), lp.now.Sub(j.start).Seconds()
	lp.observe(o, d, 1, j.rep.id, j.rep.span != nil)
	lp.record(j.cn, &j.rep, j.method, j.kind.endpoint(), nil, len(j.xr.Body), j.start)
}

// dropPending forgets cn's pending replies (the connection closes or
// nothing may follow a closing reply): finished ones are released, price
// and batch jobs still waiting on lookups become orphans released on
// completion, and metrics jobs still running are left to the garbage
// collector once their worker is done.
func (cn *conn) dropPending() {
	lp := cn.lp
	for i, j := range cn.pending {
		switch {
		case j.done.Load():
			lp.releaseJob(j)
		case j.kind == routePrice || j.kind == routePrices:
			j.orphan = true
		}
		cn.pending[i] = nil
	}
	cn.pending = cn.pending[:0]
}
