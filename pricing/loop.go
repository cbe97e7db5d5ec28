package pricing

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/internal/loophost"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/quote"
)

const (
	// maxFreeBatches bounds the batch states a Loop keeps for reuse.
	maxFreeBatches = 64
	// batchKeySlots is the size of a batch's table of product x location
	// keys: a power of two, at least twice MaxBatchItems, and small enough
	// for an item index in a byte.
	batchKeySlots = 256
)

// The table of keys is a power of two, holds every item with room to
// spare, and indexes them in a byte.
var (
	_ [0]struct{} = [batchKeySlots & (batchKeySlots - 1)]struct{}{}
	_             = [batchKeySlots - 2*MaxBatchItems]struct{}{}
	_             = [255 - MaxBatchItems]struct{}{}
)

// Loop is the pricing side of one event loop: its request decoder, its
// lookup batcher, its demand shard and the state of the batches it
// prices; it is the [pricer.Loop] of [Engine.NewLoop]. The event loop
// drives it with a few calls:
//
//   - [Loop.Serve] (POST /api/v1/price) and [Loop.ServeBatch] (POST
//     /api/v1/prices) for each request body: true when the reply is made,
//     false when lookups are pending; x.Done(x) is then called once, from
//     any goroutine, and the loop calls [Loop.Complete](x);
//
// Its methods take a [pricer.Exchange], which must be an *Exchange (of
// [Engine.NewExchange], or the caller's own).
//   - [Loop.Flush] once per loop iteration in which a request was left
//     pending and [Loop.Kept] reports true, so that a networked store
//     sends the lookups of the iteration together (one round trip per
//     node), and when the pump given to [Loop.SetPump] asks for it (the
//     answered lookups then complete inside Flush, on the loop);
//   - [Loop.Tick] from the loop's periodic tick.
//
// A Loop is not safe for concurrent use: only its event loop's goroutine
// calls its methods. Nothing on its path allocates once its buffers have
// grown, inline or pending, single or batch (a refused item's *Error
// aside).
type Loop struct {
	e     *Engine
	dec   Decoder
	b     lookup.Batcher
	shard *demand.Shard  // nil without demand rules
	hist  *history.Shard // nil without a history
	sg    *quote.Signer  // nil without quote keys
	free  []*batchState  // batch states for reuse
}

var (
	_ pricer.Engine = (*Engine)(nil)
	_ pricer.Loop   = (*Loop)(nil)
)

// NewLoop returns the pricing handle of one event loop, with a batcher of
// its own and, when the engine counts demand, a demand shard of its own.
// The result is a *Loop.
func (e *Engine) NewLoop() pricer.Loop {
	l := &Loop{e: e, b: e.src.NewBatcher(), shard: e.newShard(), hist: e.newHistShard()}
	if e.cfg.Quotes != nil {
		l.sg = e.cfg.Quotes.NewSigner()
	}
	return l
}

// Instant reports whether every lookup answers at once (the memory
// source): Serve and ServeBatch then always return true.
func (l *Loop) Instant() bool { return l.e.instant }

// Serve decodes body as a price request into x and begins its lookups,
// with the deadline counted from arrived (when the request's bytes
// arrived); the request is counted on the loop's demand shard. It returns
// true when the reply is made (x.Status, x.RetryAfter, x.Body): the
// body is invalid (400/422) or the lookups answered at once. It returns
// false when the lookups are pending: x.Done(x) will be called once, from
// any goroutine, and the caller must not touch x until then.
func (l *Loop) Serve(px pricer.Exchange, body []byte, arrived time.Time) bool {
	x := exchange(px)
	x.batch = nil
	x.shard, x.hist = l.shard, l.hist
	x.Answered = time.Time{}
	x.signer = l.sg
	return l.e.serve(x, &l.dec, l.b, body, arrived)
}

// ServeBatch decodes body as a batch request and begins the lookups of
// every good item on the loop's batcher, each counted on its demand
// shard; the reply is {"items":[...]} (see [AppendBatchOpen]) or the
// error of the whole request (400/422). Like Serve it returns true when
// the reply is made in x (a refused batch, or every item answered at
// once) and false when some item's lookups are pending: x.Done(x) is then
// called once, when the last of them answered.
func (l *Loop) ServeBatch(x pricer.Exchange, body []byte, arrived time.Time) bool {
	st := l.getBatch()
	exchange(x).signer = l.sg
	if !st.begin(l.e, exchange(x), &l.dec, l.b, l.shard, l.hist, body, arrived) {
		return false
	}
	l.putBatch(st)
	return true
}

// Complete makes the reply of x, on the loop's goroutine, once x.Done(x)
// was called for a pending Serve or ServeBatch.
func (l *Loop) Complete(px pricer.Exchange) {
	x := exchange(px)
	st := x.batch
	if st == nil {
		l.e.complete(x)
		return
	}
	st.finish(l.e, x)
	l.putBatch(st)
}

// Discard forgets the reply of x, whose x.Done(x) was called but whose
// requester went away, instead of completing it.
func (l *Loop) Discard(px pricer.Exchange) {
	x := exchange(px)
	if st := x.batch; st != nil {
		x.batch, st.x = nil, nil
		l.putBatch(st)
	}
}

// Kept reports whether lookups left pending since the previous Flush
// wait for it (a source that does not tell is taken to keep them).
func (l *Loop) Kept() bool {
	if k, ok := l.b.(lookup.Keeper); ok {
		return k.Kept()
	}
	return true
}

// SetPump passes pump to the loop's batcher if it can complete lookups
// on the loop's goroutine ([lookup.Pumped]); otherwise lookups keep
// completing on the source's goroutines.
func (l *Loop) SetPump(pump func() bool) {
	if p, ok := l.b.(lookup.Pumped); ok {
		p.SetPump(pump)
	}
}

// SetHost passes h to the loop's batcher if it can keep a connection on
// the event loop ([lookup.Hosted]).
func (l *Loop) SetHost(h loophost.Host) {
	if hb, ok := l.b.(lookup.Hosted); ok {
		hb.SetHost(h)
	}
}

// Flush sends the lookups left pending since the previous Flush and, for
// a pumped source, completes the lookups answered since (their exchanges'
// done run here). It never blocks. The loop calls it once per iteration in
// which Serve or ServeBatch returned false and Kept reports true, and
// when pumped (SetPump).
func (l *Loop) Flush() { l.b.Flush() }

// Tick hands the demand counts of the finished time bucket, and the
// prices recorded since the last tick, over to their mergers even when
// the loop serves no request; the loop calls it from its periodic tick.
func (l *Loop) Tick(now time.Time) {
	if l.shard != nil {
		l.shard.Flush(now)
	}
	if l.hist != nil {
		l.hist.Flush()
	}
}

func (l *Loop) getBatch() *batchState {
	if n := len(l.free); n > 0 {
		st := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		return st
	}
	return new(batchState)
}

func (l *Loop) putBatch(st *batchState) {
	if len(l.free) < maxFreeBatches {
		l.free = append(l.free, st)
	}
}

// ServeBatchWait decodes body with dec as a batch request and prices it
// on the calling goroutine, blocking until every item's lookups answered,
// and makes the reply in x, as [Loop.ServeBatch] would. Like [Engine.Wait]
// it is for callers that own a goroutine per request (the admin
// listener); the items are not counted for the demand rules.
func (e *Engine) ServeBatchWait(x *Exchange, dec *Decoder, body []byte) {
	st, _ := e.batches.Get().(*batchState)
	if st == nil {
		st = new(batchState)
	}
	x.block()
	x.signer = e.signer()
	defer func() { e.putSigner(x.signer); x.signer = nil }()
	b := e.batchers.Get().(lookup.Batcher)
	done := st.begin(e, x, dec, b, nil, nil, body, time.Now())
	if !done {
		b.Flush()
	}
	e.batchers.Put(b)
	if !done {
		<-x.wait
		st.finish(e, x)
	}
	x.blocking = false
	e.batches.Put(st) // not after a panic: some of its Calls may still be out
}

// batchState prices one batch request: the decoded batch and one Exchange
// per item. It is reused: after warm-up a batch allocates only for its
// refused items.
type batchState struct {
	b       Batch
	items   []*Exchange // one per item; pointers: the Source holds their Calls
	waiting []bool      // items[i]'s lookups did not answer at once
	x       *Exchange   // the Exchange of the reply, while the batch is priced
	// pending counts the items whose lookups are out, plus one held by
	// begin until every lookup is begun; whoever takes it to zero after
	// begin let go notifies x.
	pending atomic.Int32
	// keys finds the items of one product x location (see counts): an
	// open-addressing table of item index + 1 (0: empty), by keyHash.
	keys [batchKeySlots]uint8
}

// counts reports whether item i of st.b (a good one) is the first good
// item of its product x location in request order: demand counts an item
// once per batch, so the later ones are priced with the same demand but
// not counted again. Call it for the good items in request order, after
// clearing st.keys. It does not allocate.
func (st *batchState) counts(i int) bool {
	r := &st.b.Items[i]
	mask := uint64(len(st.keys) - 1)
	for j := keyHash(r.ProductID, r.Location) & mask; ; j = (j + 1) & mask {
		k := int(st.keys[j])
		if k == 0 {
			st.keys[j] = uint8(i + 1)
			return true
		}
		if o := &st.b.Items[k-1]; bytes.Equal(o.ProductID, r.ProductID) && bytes.Equal(o.Location, r.Location) {
			return false
		}
	}
}

// keyHash is FNV-1a of product, its length and location (a batch holds
// at most MaxBatchItems keys: collisions cost a probe, not a wrong answer).
func keyHash(product, location []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range product {
		h = (h ^ uint64(c)) * 1099511628211
	}
	h = (h ^ uint64(len(product)&0xff)) * 1099511628211
	for _, c := range location {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// begin decodes body into st with dec and begins the lookups of the good
// items on b, counted on shard (nil: not counted; an item is counted once
// per batch, see counts). It returns true with
// the reply made in x (a refused batch, or every lookup answered at
// once), or false with x.batch set: x.notify runs once the last pending
// item answered, and the caller then calls finish.
func (st *batchState) begin(e *Engine, x *Exchange, dec *Decoder, b lookup.Batcher, shard *demand.Shard, hist *history.Shard, body []byte, arrived time.Time) bool {
	x.batch = nil
	x.Answered = time.Time{}
	if x.trace.On {
		x.trace.Reset()
	}
	if err := dec.DecodeBatch(body, &st.b); err != nil {
		x.Fail(err)
		return true
	}
	if st.b.Quote && e.cfg.Quotes == nil {
		x.Fail(quotesOff())
		return true
	}
	n := st.b.Len()
	for len(st.items) < n {
		st.items = append(st.items, &Exchange{itemOf: st})
		st.waiting = append(st.waiting, false)
	}
	st.x, x.batch = x, st
	st.pending.Store(1)
	if shard != nil {
		clear(st.keys[:])
	}
	for i := 0; i < n; i++ {
		st.waiting[i] = false
		if st.b.Errs[i] == nil && e.quoteRefused(&st.b.Items[i]) {
			st.b.Errs[i] = quotesOff()
		}
		if st.b.Errs[i] != nil {
			continue
		}
		it := st.items[i]
		it.Req = st.b.Items[i]
		it.shard, it.hist = shard, hist
		it.trace.On = x.trace.On
		it.signer = x.signer
		if shard != nil && !st.counts(i) {
			it.shard = nil // priced with the demand seen, not counted again
		}
		st.pending.Add(1)
		if e.begin(it, b, arrived) {
			st.pending.Add(-1)
			continue
		}
		st.waiting[i] = true
	}
	if st.pending.Add(-1) != 0 {
		return false
	}
	st.finish(e, x)
	return true
}

// itemDone is the completion of one pending item; it runs on any
// goroutine.
func (st *batchState) itemDone() {
	if st.pending.Add(-1) == 0 {
		st.x.notify()
	}
}

// finish completes the pending items and writes the reply into x, in
// request order, then detaches st from x.
func (st *batchState) finish(e *Engine, x *Exchange) {
	o := AppendBatchOpen(x.Body[:0])
	var answered time.Time
	for i := 0; i < st.b.Len(); i++ {
		if err := st.b.Errs[i]; err != nil {
			o = AppendBatchItemError(o, i, err)
			continue
		}
		it := st.items[i]
		if st.waiting[i] {
			e.complete(it)
			if it.Answered.After(answered) {
				answered = it.Answered
			}
		}
		o = appendBatchItem(o, i, it)
		if x.trace.On {
			noteItem(&x.trace, &it.trace)
		}
	}
	x.Status, x.RetryAfter, x.Body = 200, 0, AppendBatchClose(o)
	x.Answered = answered
	x.batch, st.x = nil, nil
}

// noteItem adds what the trace notes of a batch's item say to the
// batch's: its round trips and its rules evaluation.
func noteItem(t, it *pricer.Trace) {
	for _, trip := range it.Trips[:it.NTrips] {
		t.AddTrip(trip)
	}
	t.TripsDropped += it.TripsDropped
	if t.RulesAt == 0 {
		t.RulesAt, t.RulesVersion = it.RulesAt, it.RulesVersion
	}
}
