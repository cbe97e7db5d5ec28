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
// completion stack (lock-free: a compare-and-swap on the head); the push
// that finds the stack empty, and only that one, asks the loop to run
// drain. drain takes every completion at once, makes the replies, and
// resumes each connection concerned once, so that its replies go out in
// one write, in request order behind and before inline answers (the
// connection's pending queue keeps the order).
//
// Waking: gnet's EventLoop.Execute queues the task in the poller's urgent
// queue unless that queue is over its threshold, so with one task per
// drain (not one per reply) it runs in the next loop iteration, after the
// reads of the current one; the event fd write is skipped while one is
// pending.
//
// Flushing: the pricing handle keeps the lookups of one iteration; the
// first request left pending in an iteration schedules one flush task
// (also through Execute), which runs after the iteration's reads, so a
// networked store sends all of them in one round trip.

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
	lp.scheduleFlush()
	if rep.close {
		cn.closing = true
	}
	cn.pending = append(cn.pending, j)
	return out
}

// scheduleFlush makes the loop flush its lookups once, after the reads of
// the current iteration.
func (lp *loop) scheduleFlush() {
	if lp.flushQueued {
		return
	}
	lp.flushQueued = true
	if err := lp.el.Execute(context.Background(), lp.flushRun); err != nil {
		// The loops are stopping: flush now rather than never.
		lp.flushQueued = false
		lp.pl.Flush()
	}
}

// flush runs on the loop (scheduled by scheduleFlush).
func (lp *loop) flush() {
	lp.flushQueued = false
	lp.pl.Flush()
}

// lookedUp is the done of the job's Exchange: it runs on whatever goroutine the
// lookups completed on, and hands the job to its loop.
func (j *job) lookedUp() {
	lp := j.lp
	for {
		head := lp.completions.Load()
		j.next = head
		if lp.completions.CompareAndSwap(head, j) {
			if head == nil {
				lp.adm.wakeAt.Store(time.Now().UnixNano())
				lp.wake()
			}
			return
		}
	}
}

// wake asks the loop to drain its completions.
func (lp *loop) wake() {
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
	}
}

// drain runs on the loop: it makes the replies of every completed job,
// then resumes each connection concerned once (one write each).
func (lp *loop) drain() {
	head := lp.completions.Swap(nil)
	var fifo *job // reversed: completion order
	for head != nil {
		next := head.next
		head.next = fifo
		fifo, head = head, next
	}
	lp.now = time.Now()
	now := lp.now.UnixNano()
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
	// Let the lookups complete what is due by now (a timer source): with
	// GOMAXPROCS=1 a busy loop holds the only P, and its Source's own
	// goroutine may wait for it (a networked store's Flush with nothing
	// kept sends nothing).
	if !lp.flushQueued {
		lp.pl.Flush()
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
			lp.observer(j.method, j.kind.endpoint(), j.rep.status).Observe(lp.now.Sub(j.start).Seconds())
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
	o, d := lp.observer(j.method, j.kind.endpoint(), j.rep.status), lp.now.Sub(j.start).Seconds()
	lp.observe(o, d, j.rep.id, j.rep.span != nil)
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
