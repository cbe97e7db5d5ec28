package pricing

import (
	"errors"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/quote"
	"github.com/pricing-engine/pricing-engine/rules"
)

// DefaultDeadline bounds the lookups of one request when Config.Deadline
// is zero.
const DefaultDeadline = time.Second

// Names of the lookups and their outcomes, as passed to Config.Observe.
// The catalog and market lookups of one request are one [lookup.Call]
// (they run concurrently and complete together), observed as LookupCall.
const (
	LookupCall = "catalog_market"

	OutcomeOK       = "ok"        // answered
	OutcomeNotFound = "not_found" // catalog: unknown product
	OutcomeError    = "error"     // back end failed or sent an invalid value
	OutcomeTimeout  = "timeout"   // the deadline passed first
)

// Config configures an [Engine].
type Config struct {
	// Deadline bounds the lookups of one request, counted from when its
	// bytes arrived; 0 means DefaultDeadline.
	Deadline time.Duration
	// Observe, if not nil, is called once per request whose lookups did
	// not answer at once (answers from memory are not timed: timing them
	// would cost more than doing them), with LookupCall, the outcome
	// (OutcomeOK, ...) and how long the lookups took. It is called from
	// the goroutine that completes the request ([Loop.Complete] on an
	// event loop, or Wait's caller), so it must be safe for concurrent
	// use and must not block. The metrics package hooks its histogram
	// here.
	Observe func(lookup, outcome string, d time.Duration)
	// Rules, if not nil, returns the ruleset in use (rules.Holder.Load),
	// read once per request; it must be safe for concurrent use and must
	// not allocate. A nil func or a nil ruleset prices with the seed
	// formula and replies exactly as without rules.
	Rules func() *rules.Ruleset
	// Demand, if not nil, counts requests per product x location for the
	// demand rules: every [Loop] counts on a shard of its own.
	Demand *demand.Merger
	// History, if not nil, records the list price of every request served
	// (every [Loop] records on a shard of its own; Wait records through
	// the merger) and answers the prior price of announced reductions.
	History *history.Merger
	// Quotes, if not nil, signs the quotes that requests ask for with
	// "quote": true (every [Loop] signs with a signer of its own) and
	// verifies tokens ([Engine.VerifyQuote]). Without it such requests
	// are refused with 422 "quotes are not enabled".
	Quotes *quote.Keyring
}

// Engine prices requests over a [lookup.Source]. It is safe for
// concurrent use; the state of one request lives in an [Exchange], the
// state of one event loop in a [Loop].
//
// Every request takes the same path, whoever drives it (an event loop
// through its Loop, inline or on completion; the admin listener or a
// reference server through Wait):
//
//	decode -> lookup call (begin) -> [wait] -> finish (computeQuote, or
//	the error's status) -> the JSON reply in Exchange.Body
type Engine struct {
	src       lookup.Source
	instant   bool
	cfg       Config
	batchers  sync.Pool // lookup.Batcher for Wait, used by one goroutine at a time
	batches   sync.Pool // *batchState for ServeBatchWait
	decoders  sync.Pool // *Decoder for Price and PriceBatch
	signers   sync.Pool // *quote.Signer for Wait and ServeBatchWait
	verifiers sync.Pool // *quote.Verifier for VerifyQuote
}

// NewEngine returns an engine over src.
func NewEngine(src lookup.Source, cfg Config) *Engine {
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	e := &Engine{src: src, instant: src.Instant(), cfg: cfg}
	e.batchers.New = func() any { return src.NewBatcher() }
	return e
}

// newShard returns a new demand shard for one event loop (nil without
// Config.Demand); only that loop may use it.
func (e *Engine) newShard() *demand.Shard {
	if e.cfg.Demand == nil {
		return nil
	}
	return e.cfg.Demand.NewShard()
}

// newHistShard returns a new history shard for one event loop (nil
// without Config.History); only that loop may use it.
func (e *Engine) newHistShard() *history.Shard {
	if e.cfg.History == nil {
		return nil
	}
	return e.cfg.History.NewShard()
}

// Instant reports whether every lookup answers at once (the memory
// source): a [Loop] then answers every request inline.
func (e *Engine) Instant() bool { return e.instant }

// Deadline is the bound on the lookups of one request.
func (e *Engine) Deadline() time.Duration { return e.cfg.Deadline }

// Exchange is one price or batch request in flight: the decoded request,
// its lookup call, the quote and the reply. Exchanges are meant to be
// reused: every buffer keeps its capacity.
//
// Ownership: from a [Loop.Serve] or [Loop.ServeBatch] that returned false
// until the call of Done, the Engine and its Source own the Exchange; the
// caller must not touch it until then.
type Exchange struct {
	Req   Request
	Call  lookup.Call
	Quote Quote

	// The reply (Status, RetryAfter, Body), valid once Serve/ServeBatch
	// returned true, Complete ran or Wait returned. Body keeps its
	// capacity; a caller pooling Exchanges may drop a large one (set it
	// to nil).
	pricer.Reply

	// Done is called exactly once, from any goroutine, when the lookups
	// of a request that a Loop left pending have answered; the caller
	// then calls [Loop.Complete] on the loop's goroutine. It must not
	// block (it normally queues the Exchange for its loop). It is the
	// caller's to set, once, before the first Serve that may leave the
	// request pending; Wait and ServeWait do not use it.
	Done func(*Exchange)

	// shard, if not nil, counts this request for the demand rules. It
	// belongs to the loop that drives the Exchange and is only used on
	// that loop's goroutine, in begin or complete. Wait leaves it nil:
	// such requests are not counted, and are priced with the demand the
	// loops' counts show.
	shard *demand.Shard
	// hist, if not nil, records this request's price; like shard it
	// belongs to the loop that drives the Exchange. Without one the
	// price is recorded through Config.History (under its lock).
	hist *history.Shard

	res      rules.Result       // the rules' result, reused
	start    time.Time          // when the lookups began
	scr      []byte             // scratch for error details
	callDone func(*lookup.Call) // Call.Done: x.notify, bound once
	blocking bool               // driven by Wait: notify signals wait
	wait     chan struct{}      // Wait's completion signal, made once
	batch    *batchState        // the batch this Exchange replies for, while it is priced
	itemOf   *batchState        // the batch this Exchange is an item of (set once)
	trace    pricer.Trace       // notes for the caller's spans, kept only when trace.On
	// signer signs the quote a request asks for (nil: none asked, or
	// no keys); it belongs to whoever drives x (a Loop's, or taken from
	// the engine's pool for Wait). claims and signed are sign's.
	signer *quote.Signer
	claims quote.Claims
	signed []byte
}

// Result returns x's reply, for callers that hold x as a
// [pricer.Exchange].
func (x *Exchange) Result() *pricer.Reply { return &x.Reply }

// Trace returns x's trace notes: set On before serving a request to have
// them kept (see [pricer.Trace]).
func (x *Exchange) Trace() *pricer.Trace { return &x.trace }

// NewExchange returns a new Exchange whose Done calls done (none when
// done is nil), as a [pricer.Exchange] for [Loop] and [Engine.Price].
func (e *Engine) NewExchange(done func()) pricer.Exchange {
	x := new(Exchange)
	if done != nil {
		x.Done = func(*Exchange) { done() }
	}
	return x
}

// exchange returns the *Exchange behind x. Every pricer.Exchange this
// package is given was made by it ([Engine.NewExchange], or an
// *Exchange of the caller's); anything else is a programming error.
func exchange(x pricer.Exchange) *Exchange { return x.(*Exchange) }

// notify reports that x's lookups (or, for a batch, every item's) have
// answered, to whoever waits: the batch x is an item of, Wait, or the
// caller's Done. It runs on any goroutine.
func (x *Exchange) notify() {
	switch {
	case x.itemOf != nil:
		x.itemOf.itemDone()
	case x.blocking:
		x.wait <- struct{}{}
	default:
		x.Done(x)
	}
}

// serve decodes body into x.Req with dec and begins its lookups on b (see
// begin). An invalid body makes the reply at once (400/422).
func (e *Engine) serve(x *Exchange, dec *Decoder, b lookup.Batcher, body []byte, arrived time.Time) bool {
	if err := dec.Decode(body, &x.Req); err != nil {
		x.Fail(err)
		return true
	}
	if e.quoteRefused(&x.Req) {
		x.Fail(quotesOff())
		return true
	}
	return e.begin(x, b, arrived)
}

// begin looks up the inputs of x.Req on b, with the deadline counted from
// arrived (when the request's bytes arrived). It returns true when the
// reply is made (the lookups answered at once: x.Status, x.Body are set);
// false when the lookups are pending: x.notify will be called once, from
// any goroutine, and the caller then calls complete on its own goroutine.
// The caller flushes b once per loop iteration.
func (e *Engine) begin(x *Exchange, b lookup.Batcher, arrived time.Time) bool {
	c := &x.Call
	c.ProductID = x.Req.ProductID
	c.Location = x.Req.Location
	if !e.instant { // an instant source answers before any deadline
		c.Deadline = arrived.Add(e.cfg.Deadline)
	}
	if x.callDone == nil {
		x.callDone = func(*lookup.Call) { x.notify() }
	}
	c.Done = x.callDone
	c.Base, c.Mult, c.Err, c.Stale, c.Answered = money.Decimal{}, money.Decimal{}, nil, false, time.Time{}
	c.Traced = x.trace.On
	if c.Traced {
		x.trace.Reset()
		c.Trip = lookup.Trip{}
	}
	x.start = arrived
	if b.Lookup(c) {
		if c.Traced {
			x.trace.Cached = !e.instant
		}
		e.finish(x, false)
		return true
	}
	return false
}

// complete makes the reply of x once its Call is done (after begin
// returned false).
func (e *Engine) complete(x *Exchange) { e.finish(x, true) }

// Wait prices x.Req on the calling goroutine, blocking until the lookups
// answer (no later than shortly after the deadline), and makes the reply.
// It is for callers that own a goroutine per request (the admin listener,
// reference servers); event loops use a [Loop].
func (e *Engine) Wait(x *Exchange) {
	x.block()
	x.shard, x.hist = nil, nil // not counted: no loop
	x.signer = e.signer()
	defer func() { e.putSigner(x.signer); x.signer = nil }()
	b := e.batchers.Get().(lookup.Batcher)
	done := e.begin(x, b, time.Now())
	if !done {
		b.Flush()
	}
	e.batchers.Put(b)
	if !done {
		<-x.wait
		e.complete(x)
	}
	x.blocking = false
}

// block makes x's completion signal its wait channel (Wait's mode).
func (x *Exchange) block() {
	if x.wait == nil {
		x.wait = make(chan struct{}, 1)
	}
	x.blocking = true
}

// ServeWait decodes body with dec and prices it with [Engine.Wait].
func (e *Engine) ServeWait(x *Exchange, dec *Decoder, body []byte) {
	if err := dec.Decode(body, &x.Req); err != nil {
		x.Fail(err)
		return
	}
	if e.quoteRefused(&x.Req) {
		x.Fail(quotesOff())
		return
	}
	e.Wait(x)
}

// BatchItems returns [BatchItems](body), for callers that hold the
// Engine as a [pricer.Engine].
func (e *Engine) BatchItems(body []byte) int { return BatchItems(body) }

// Price decodes body as a price request and prices it like
// [Engine.ServeWait], with a decoder of the engine's; x must be an
// *Exchange. It is safe for concurrent use with distinct exchanges.
func (e *Engine) Price(x pricer.Exchange, body []byte) {
	dec := e.decoder()
	e.ServeWait(exchange(x), dec, body)
	e.decoders.Put(dec)
}

// PriceBatch decodes body as a batch request and prices it like
// [Engine.ServeBatchWait], with a decoder of the engine's; x must be an
// *Exchange.
func (e *Engine) PriceBatch(x pricer.Exchange, body []byte) {
	dec := e.decoder()
	e.ServeBatchWait(exchange(x), dec, body)
	e.decoders.Put(dec)
}

// decoder takes a decoder from the engine's pool, for Price and
// PriceBatch.
func (e *Engine) decoder() *Decoder {
	if dec, ok := e.decoders.Get().(*Decoder); ok {
		return dec
	}
	return new(Decoder)
}

// Fail makes x's reply from err: a *Error gives its status, Retry-After
// and body; anything else is a 500 "internal server error".
func (x *Exchange) Fail(err error) {
	x.Status, x.RetryAfter, x.Body = errorReply(x.Body[:0], err, -1)
}

// finish maps the answered Call to the reply: the quote, or the status of
// its error. It does not allocate on success, nor for timeouts and
// back-end failures.
func (e *Engine) finish(x *Exchange, timed bool) {
	c := &x.Call
	x.Answered = c.Answered // zero when answered at once (begin cleared it)
	outcome := OutcomeOK
	switch err := c.Err; {
	case err == nil:
		if cerr := e.computeQuote(x, c.Base, c.Mult, c.Stale); cerr != nil {
			x.Fail(cerr)
			outcome = OutcomeError
			break
		}
		x.Status, x.RetryAfter = 200, 0
		x.sign()
		x.Body = AppendQuote(x.Body[:0], &x.Quote)
	case errors.Is(err, lookup.ErrNotFound):
		outcome = OutcomeNotFound
		x.scr = append(append(append(x.scr[:0], `unknown product_id "`...), x.Req.ProductID...), '"')
		setDetail(x, StatusNotFound, 0, x.scr)
	case errors.Is(err, lookup.ErrInvalidValue):
		outcome = OutcomeError
		x.scr = append(x.scr[:0], err.Error()...)
		setDetail(x, StatusBadGateway, 0, x.scr)
	case errors.Is(err, lookup.ErrTimeout):
		outcome = OutcomeTimeout
		setDetail(x, StatusServiceUnavailable, 1, detailTimeout)
	default:
		outcome = OutcomeError
		setDetail(x, StatusServiceUnavailable, 1, detailFailed)
	}
	if timed && e.cfg.Observe != nil {
		e.cfg.Observe(LookupCall, outcome, time.Since(x.start))
	}
	if c.Traced {
		x.noteTrace()
	}
}

// noteTrace fills x's trace notes from the answered request (traced
// requests only).
func (x *Exchange) noteTrace() {
	t, c := &x.trace, &x.Call
	t.ProductID, t.Location = x.Req.ProductID, x.Req.Location
	if x.Status == 200 {
		t.Source = x.Quote.Source
	}
	if c.Trip.ID != 0 {
		t.AddTrip(pricer.Trip(c.Trip))
	}
}

// Details of lookup failures (503).
const (
	detailTimeout = "lookup timed out"
	detailFailed  = "lookup failed"
)

// setDetail makes a {"detail":msg} reply.
func setDetail[S ~string | ~[]byte](x *Exchange, status, retryAfter int, msg S) {
	x.Status, x.RetryAfter = status, retryAfter
	x.Body = jsonstr.AppendDetail(x.Body[:0], msg)
}

// computeQuote is the one computation of a price: every request, whatever
// drives it, is priced here from its looked-up inputs. The rules
// (demand, schedules, guards, endings) plug in here and nowhere else.
//
// Without rules: the seed formula, rules.Seed: final = round(base * mult
// * (1 - discount), 2), half to even, on exact decimals; discount is 0.05
// for members. stale marks inputs served from last-known values
// ("source":"stale").
//
// With rules (Config.Rules returns a ruleset): rules.Price with the
// request's arrival time and, when x has a shard and the ruleset a demand
// section, the demand its loop observed; the quote then also carries the
// list price, the ruleset's version and, for "explain": true, the
// explanation. Neither path allocates.
func (e *Engine) computeQuote(x *Exchange, base, mult money.Decimal, stale bool) error {
	r, q := &x.Req, &x.Quote
	var rs *rules.Ruleset
	if e.cfg.Rules != nil {
		rs = e.cfg.Rules()
	}
	if rs == nil {
		return e.seedQuote(x, base, mult, stale)
	}
	in := rules.Input{
		Product:  r.ProductID,
		Location: r.Location,
		Member:   r.Member,
		Base:     base,
		Market:   mult,
		Now:      x.start,
	}
	if rs.Demand != nil {
		if x.shard != nil {
			in.Demand = rules.DemandSeen(x.shard.Observe(r.ProductID, r.Location, x.start))
		} else if e.cfg.Demand != nil {
			// Not counted (no loop), but priced with the demand seen.
			in.Demand = rules.DemandSeen(e.cfg.Demand.Snapshot().Lookup(r.ProductID, r.Location))
		}
	}
	res := &x.res
	if err := rules.Price(rs, &in, res); err != nil {
		return newDetailError(StatusInternalServerError, "cannot compute price", err)
	}
	if x.trace.On {
		x.trace.RulesAt, x.trace.RulesVersion = time.Now().UnixNano(), res.Version
	}
	q.ProductID = append(q.ProductID[:0], r.ProductID...)
	q.Final = res.Final
	q.Base = base
	q.Multiplier = mult
	q.Discount = res.Discount
	q.Source = SourceLive
	if stale {
		q.Source = SourceStale
	}
	q.List = res.List
	q.Version = res.Version
	price := res.List
	if rs.Omnibus.MemberPrices && r.Member {
		price = res.Final // member prices are prices applied
	}
	e.record(x, price, !res.Reduction)
	q.Prior, q.PriorSince = money.Decimal{}, time.Time{}
	if res.Reduction {
		e.prior(x, rs, res)
	}
	q.Explanation = nil
	if r.Explain {
		q.Explanation = &res.Explanation
	}
	return nil
}

// record records the price of x's request in the history: on its loop's
// shard, or through the merger when it has none.
func (e *Engine) record(x *Exchange, price money.Decimal, plain bool) {
	switch {
	case x.hist != nil:
		x.hist.Record(x.Req.ProductID, x.Req.Location, x.start, price, plain)
	case e.cfg.History != nil:
		e.cfg.History.Record(x.Req.ProductID, x.Req.Location, x.start, price, plain)
	}
}

// prior sets the quote's prior price of the announced reduction that
// applied (res.Reduction): the lowest price in the history of the
// omnibus window before the reduction started, with the start of the
// history used when it covers less than the window; when nothing was
// recorded, the list price without the reduction, with the reduction's
// start as the history's.
func (e *Engine) prior(x *Exchange, rs *rules.Ruleset, res *rules.Result) {
	q, r := &x.Quote, &x.Req
	var p history.Prior
	if e.cfg.History != nil {
		p = e.cfg.History.Prior(r.ProductID, r.Location, res.Start, rs.Omnibus.Window)
	}
	if p.Found {
		q.Prior = p.Price
		if p.Short {
			q.PriorSince = p.Since.Start()
		}
	} else {
		q.Prior, q.PriorSince = res.Regular, res.Start
	}
	if r.Explain {
		res.Explanation.SetPrior(q.Prior, p.Found, p.Day.Start(), res.Start, rs.Omnibus.Window)
	}
}

// seedQuote is the price without rules: the seed formula (rules.Seed),
// and a quote without list price, version or explanation.
func (e *Engine) seedQuote(x *Exchange, base, mult money.Decimal, stale bool) error {
	r, q := &x.Req, &x.Quote
	list, disc, final, err := rules.Seed(base, mult, r.Member)
	if err != nil {
		return newDetailError(StatusInternalServerError, "cannot compute price", err)
	}
	e.record(x, list, true)
	q.ProductID = append(q.ProductID[:0], r.ProductID...)
	q.Final = final
	q.Base = base
	q.Multiplier = mult
	q.Discount = disc
	q.Source = SourceLive
	if stale {
		q.Source = SourceStale
	}
	q.List, q.Version, q.Explanation = money.Decimal{}, "", nil
	q.Prior, q.PriorSince = money.Decimal{}, time.Time{}
	return nil
}
