package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// Batch pricing, POST /api/v1/prices: 1..pricing.MaxBatchItems items
// priced independently, answered in request order.
//
// Where it runs:
//   - instant source (memory): inline on the event loop, on the loop's
//     Batcher and demand shard, like a single price request;
//   - other sources: on the worker pool (like the metrics exposition). The
//     worker begins the lookups of every item on its own Batcher, flushes
//     once (one round trip per store node), then blocks until they have all
//     answered, and writes the reply; the connection's loop sends it in
//     order. The worker has no demand shard (a shard belongs to its loop),
//     so it prices with the merged demand and copies the product and
//     location of every item it priced into the job; the loop records
//     them on its own shard when it takes the reply back (recordDemand),
//     as a single request is counted once priced.
//   - admin port: the same function on the handler's goroutine.

// batchRun prices one batch. It is reused (pooled), so that after warm-up
// pricing a batch allocates only for bad items. Not safe for concurrent
// use.
type batchRun struct {
	dec     pricing.Decoder
	b       pricing.Batch
	xs      []*pricing.Exchange // one per item; pointers: the Source holds their Calls
	waiting []bool              // xs[i]'s lookups did not answer at once
	fail    pricing.Exchange    // the reply of a refused batch
	batcher lookup.Batcher      // for callers without a loop's Batcher
	out     []byte

	pending atomic.Int32
	done    chan struct{}
	doneFn  func(*lookup.Call)
}

func newBatchRun(e *pricing.Engine) *batchRun {
	br := &batchRun{done: make(chan struct{}, 1), batcher: e.Source().NewBatcher()}
	br.doneFn = func(*lookup.Call) {
		if br.pending.Add(-1) == 0 {
			br.done <- struct{}{}
		}
	}
	return br
}

// price decodes body as a batch and prices its good items with e, their
// lookups begun on b (flushed once) and counted on shard (nil: not
// counted), then waits for every lookup still out. It returns the status,
// the Retry-After seconds and the body of the reply; the body is valid
// until the next call. On an event loop it must only be called when
// e.Instant() (it would block otherwise).
func (br *batchRun) price(e *pricing.Engine, b lookup.Batcher, shard *demand.Shard, body []byte, arrived time.Time) (int, int, []byte) {
	if err := br.dec.DecodeBatch(body, &br.b); err != nil {
		br.fail.Fail(err)
		return br.fail.Status, br.fail.RetryAfter, br.fail.Body
	}
	n := br.b.Len()
	for len(br.xs) < n {
		x := new(pricing.Exchange)
		x.Call.Done = br.doneFn
		br.xs = append(br.xs, x)
		br.waiting = append(br.waiting, false)
	}
	br.pending.Store(1) // ours, dropped once every lookup is begun
	out := false
	for i := 0; i < n; i++ {
		br.waiting[i] = false
		if br.b.Errs[i] != nil {
			continue
		}
		x := br.xs[i]
		x.Req = br.b.Items[i]
		x.Shard = shard
		br.pending.Add(1)
		if e.Begin(x, b, arrived) {
			br.pending.Add(-1)
			continue
		}
		br.waiting[i], out = true, true
	}
	if out {
		b.Flush()
	}
	if br.pending.Add(-1) != 0 {
		<-br.done
	}
	o := pricing.AppendBatchOpen(br.out[:0])
	for i := 0; i < n; i++ {
		if err := br.b.Errs[i]; err != nil {
			o = pricing.AppendBatchItemError(o, i, err)
			continue
		}
		x := br.xs[i]
		if br.waiting[i] {
			e.Complete(x)
		}
		o = appendBatchItem(o, i, x)
	}
	br.out = pricing.AppendBatchClose(o)
	return 200, 0, br.out
}

// appendPriced appends to dst the product and location of every item the
// last successful price call priced (status 200), each id as one length
// byte and its bytes, for the loop to count (recordDemand). Ids longer
// than 255 bytes are left out (they are refused, and the demand rules do
// not count ids over 64 bytes anyway).
func (br *batchRun) appendPriced(dst []byte) []byte {
	for i := 0; i < br.b.Len(); i++ {
		if br.b.Errs[i] != nil || br.xs[i].Status != http.StatusOK {
			continue
		}
		r := &br.b.Items[i]
		if len(r.ProductID) > 255 || len(r.Location) > 255 {
			continue
		}
		dst = append(dst, byte(len(r.ProductID)))
		dst = append(dst, r.ProductID...)
		dst = append(dst, byte(len(r.Location)))
		dst = append(dst, r.Location...)
	}
	return dst
}

// recordDemand counts the items a batch job priced on the pool (its
// demand list, see appendPriced) on the loop's shard, at the batch's
// arrival time. It runs on the loop, when the job's reply is taken back.
func (lp *loop) recordDemand(j *job) {
	sh := lp.x.Shard
	d := j.demand
	for sh != nil && len(d) > 0 {
		n := int(d[0])
		product := d[1 : 1+n]
		d = d[1+n:]
		n = int(d[0])
		location := d[1 : 1+n]
		d = d[1+n:]
		sh.Record(product, location, j.start)
	}
	j.demand = j.demand[:0]
}

// appendBatchItem appends item i's result from its finished Exchange: its
// quote, or {"error":{"status":S,"detail":D}} where {"detail":D} is the
// body the single request would have had.
func appendBatchItem(dst []byte, i int, x *pricing.Exchange) []byte {
	if x.Status == http.StatusOK {
		return pricing.AppendBatchItemQuote(dst, i, &x.Quote)
	}
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"error":{"status":`...)
	dst = strconv.AppendInt(dst, int64(x.Status), 10)
	dst = append(dst, ',')
	if len(x.Body) > 1 && x.Body[0] == '{' {
		dst = append(dst, x.Body[1:]...) // "detail":D}
	} else {
		dst = append(dst, `"detail":"internal server error"}`...)
	}
	return append(dst, '}')
}

// batchRunPool pools batchRuns for the worker pool and the admin port.
type batchRunPool struct{ p sync.Pool }

func (p *batchRunPool) get(e *pricing.Engine) *batchRun {
	if v := p.p.Get(); v != nil {
		return v.(*batchRun)
	}
	return newBatchRun(e)
}

func (p *batchRunPool) put(br *batchRun) { p.p.Put(br) }

// servePrices answers POST /api/v1/prices on an event loop (method and
// Content-Type already checked).
func (cn *conn) servePrices(out []byte, rep *reply, req *httpparse.Request, method string) []byte {
	lp := cn.lp
	s := lp.srv
	if s.engine.Instant() {
		if lp.br == nil {
			lp.br = newBatchRun(s.engine)
		}
		rep.status, rep.retryAfter, lp.body = lp.br.price(s.engine, lp.batcher, lp.x.Shard, req.Body, lp.now)
		return cn.answer(out, rep, lp.body, method, endpointPrices)
	}
	if !lp.admit() {
		return cn.overloaded(out, rep, method)
	}
	j := lp.getJob()
	j.kind = routePrices
	j.body = append(j.body[:0], req.Body...)
	j.countDemand = lp.x.Shard != nil
	return cn.submit(out, j, rep, method)
}

// executePrices runs a batch job on a pool worker.
func (j *job) executePrices() {
	s := j.srv
	// br goes back to the pool only on a normal return: after a panic
	// some of its Calls may still be out.
	br := s.batchRuns.get(s.engine)
	status, retryAfter, body := br.price(s.engine, br.batcher, nil, j.body, j.start)
	if j.countDemand && status == http.StatusOK {
		j.demand = br.appendPriced(j.demand[:0])
	}
	j.closeIfDraining()
	j.rep.status, j.rep.retryAfter = status, retryAfter
	j.bb.B = appendReply(j.bb.B[:0], &j.rep, s.date.get(), body)
	s.batchRuns.put(br)
}

// adminPrices is the net/http twin of the event-loop batch route.
func (s *Server) adminPrices(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readAdminJSON(w, r)
	if !ok {
		return
	}
	br := s.batchRuns.get(s.engine) // not put back after a panic (see executePrices)
	status, retryAfter, out := br.price(s.engine, br.batcher, nil, body, time.Now())
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, status, out)
	s.batchRuns.put(br)
}
