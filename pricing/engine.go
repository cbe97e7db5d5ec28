package pricing

import (
	"errors"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
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
	// the goroutine that calls [Engine.Complete], so it must be safe for
	// concurrent use and must not block. The metrics package hooks its
	// histogram here.
	Observe func(lookup, outcome string, d time.Duration)
	// Rules, if not nil, returns the ruleset in use (rules.Holder.Load),
	// read once per request; it must be safe for concurrent use and must
	// not allocate. A nil func or a nil ruleset prices with the seed
	// formula and replies exactly as without rules.
	Rules func() *rules.Ruleset
	// Demand, if not nil, counts requests per product x location for the
	// demand rules: [Engine.NewShard] hands out one of its shards per
	// event loop.
	Demand *demand.Merger
}

// Engine prices requests over a [lookup.Source]. It is safe for
// concurrent use; the state of one request lives in an [Exchange], the
// state of one goroutine's lookups in a [lookup.Batcher].
//
// Every request takes the same path, whoever drives it (an event loop
// inline or on completion, the admin listener, a reference server):
//
//	decode (Serve) -> lookup call (Begin) -> [wait] -> finish (Complete:
//	computeQuote, or the error's status) -> the JSON reply in Exchange.Body
type Engine struct {
	src      lookup.Source
	instant  bool
	cfg      Config
	batchers sync.Pool // lookup.Batcher for Wait, used by one goroutine at a time
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

// NewShard returns a new demand shard for one event loop (nil without
// Config.Demand). The loop sets it on the Exchanges it drives
// (Exchange.Shard) and calls its Flush from its periodic tick; only that
// loop may use it.
func (e *Engine) NewShard() *demand.Shard {
	if e.cfg.Demand == nil {
		return nil
	}
	return e.cfg.Demand.NewShard()
}

// Source returns the engine's source; callers that drive requests from
// one goroutine take a Batcher from it (Source().NewBatcher()).
func (e *Engine) Source() lookup.Source { return e.src }

// Instant reports whether every lookup answers at once (the memory
// source), so that [Engine.Begin] always returns true.
func (e *Engine) Instant() bool { return e.instant }

// Deadline is the bound on the lookups of one request.
func (e *Engine) Deadline() time.Duration { return e.cfg.Deadline }

// Exchange is one price request in flight: the decoded request, its
// lookup call, the quote and the reply. Exchanges are meant to be reused:
// every buffer keeps its capacity.
//
// Ownership: between a [Engine.Begin] that returned false and the call of
// Call.Done, the Source owns Call (and Req, which Call's inputs point at);
// the caller must not touch the Exchange until then. Call.Done is the
// caller's to set (once: Begin keeps it).
type Exchange struct {
	Req   Request
	Call  lookup.Call
	Quote Quote

	// The reply, valid once Serve/Begin returned true or Complete ran:
	// the HTTP status, the Retry-After seconds (0: none) and the JSON
	// body.
	Status     int
	RetryAfter int
	Body       []byte

	// Shard, if not nil, counts this request for the demand rules. It
	// belongs to the event loop that drives the Exchange (see
	// [Engine.NewShard]) and is only used on that loop's goroutine, in
	// Begin or Complete. Callers without a loop (Engine.Wait: the admin
	// listener, reference servers) leave it nil: their requests are not
	// counted, and are priced with the demand the loops' counts show.
	Shard *demand.Shard

	res    rules.Result         // the rules' result, reused
	start  time.Time            // when the lookups began
	scr    []byte               // scratch for error details
	wait   chan struct{}        // Wait's completion signal, made once
	waitFn func(c *lookup.Call) // signals wait, bound once
}

// Serve decodes body into x.Req with dec and begins its lookups on b (see
// [Engine.Begin]). An invalid body makes the reply at once (400/422).
func (e *Engine) Serve(x *Exchange, dec *Decoder, b lookup.Batcher, body []byte, arrived time.Time) bool {
	if err := dec.Decode(body, &x.Req); err != nil {
		x.Fail(err)
		return true
	}
	return e.Begin(x, b, arrived)
}

// Begin looks up the inputs of x.Req on b, with the deadline counted from
// arrived (when the request's bytes arrived). It returns true when the
// reply is made (the lookups answered at once: x.Status, x.Body are set);
// false when the lookups are pending: x.Call.Done(&x.Call) will be called
// once, from any goroutine, and the caller then calls [Engine.Complete]
// on its own goroutine. The caller flushes b once per loop iteration.
func (e *Engine) Begin(x *Exchange, b lookup.Batcher, arrived time.Time) bool {
	c := &x.Call
	c.ProductID = x.Req.ProductID
	c.Location = x.Req.Location
	if !e.instant { // an instant source answers before any deadline
		c.Deadline = arrived.Add(e.cfg.Deadline)
	}
	c.Base, c.Mult, c.Err, c.Stale = money.Decimal{}, money.Decimal{}, nil, false
	x.start = arrived
	if b.Lookup(c) {
		e.finish(x, false)
		return true
	}
	return false
}

// Complete makes the reply of x once its Call is done (after Begin
// returned false).
func (e *Engine) Complete(x *Exchange) { e.finish(x, true) }

// Wait prices x.Req on the calling goroutine, blocking until the lookups
// answer (no later than shortly after the deadline), and makes the reply.
// It is for callers that own a goroutine per request (the admin listener,
// reference servers); event loops use Begin and Complete.
func (e *Engine) Wait(x *Exchange) {
	if x.wait == nil {
		x.wait = make(chan struct{}, 1)
		x.waitFn = func(*lookup.Call) { x.wait <- struct{}{} }
	}
	x.Call.Done = x.waitFn
	b := e.batchers.Get().(lookup.Batcher)
	done := e.Begin(x, b, time.Now())
	if !done {
		b.Flush()
	}
	e.batchers.Put(b)
	if !done {
		<-x.wait
		e.Complete(x)
	}
}

// ServeWait decodes body with dec and prices it with [Engine.Wait].
func (e *Engine) ServeWait(x *Exchange, dec *Decoder, body []byte) {
	if err := dec.Decode(body, &x.Req); err != nil {
		x.Fail(err)
		return
	}
	e.Wait(x)
}

// Fail makes x's reply from err: a *Error gives its status, Retry-After
// and body; anything else is a 500.
func (x *Exchange) Fail(err error) {
	var pe *Error
	if errors.As(err, &pe) {
		x.Status, x.RetryAfter = pe.Status, pe.RetryAfter
		x.Body = pe.AppendJSON(x.Body[:0])
		return
	}
	x.Status, x.RetryAfter = StatusInternalServerError, 0
	x.Body = AppendDetail(x.Body[:0], "internal server error")
}

// finish maps the answered Call to the reply: the quote, or the status of
// its error. It does not allocate on success, nor for timeouts and
// back-end failures.
func (e *Engine) finish(x *Exchange, timed bool) {
	c := &x.Call
	outcome := OutcomeOK
	switch err := c.Err; {
	case err == nil:
		if cerr := e.computeQuote(x, c.Base, c.Mult, c.Stale); cerr != nil {
			x.Fail(cerr)
			outcome = OutcomeError
			break
		}
		x.Status, x.RetryAfter = 200, 0
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
}

// Details of lookup failures (503).
const (
	detailTimeout = "lookup timed out"
	detailFailed  = "lookup failed"
)

// setDetail makes a {"detail":msg} reply.
func setDetail[S ~string | ~[]byte](x *Exchange, status, retryAfter int, msg S) {
	x.Status, x.RetryAfter = status, retryAfter
	x.Body = append(x.Body[:0], `{"detail":`...)
	x.Body = appendString(x.Body, msg)
	x.Body = append(x.Body, '}')
}

// computeQuote is the one computation of a price: every request, whatever
// drives it, is priced here from its looked-up inputs. The rules of round
// 2 (demand, schedules, guards, endings) plug in here and nowhere else.
//
// Without rules: the seed formula, rules.Seed: final = round(base * mult
// * (1 - discount), 2), half to even, on exact decimals; discount is 0.05
// for members. stale marks
// inputs served from last-known values ("source":"stale").
//
// With rules (Config.Rules returns a ruleset): rules.Price with the
// request's arrival time and, when x has a Shard and the ruleset a demand
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
		return e.seedQuote(r, base, mult, stale, q)
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
		if x.Shard != nil {
			in.Demand = rules.DemandSeen(x.Shard.Observe(r.ProductID, r.Location, x.start))
		} else if e.cfg.Demand != nil {
			// Not counted (no loop), but priced with the demand seen.
			in.Demand = rules.DemandSeen(e.cfg.Demand.Snapshot().Lookup(r.ProductID, r.Location))
		}
	}
	res := &x.res
	if err := rules.Price(rs, &in, res); err != nil {
		return newDetailError(StatusInternalServerError, "cannot compute price", err)
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
	q.Explanation = nil
	if r.Explain {
		q.Explanation = &res.Explanation
	}
	return nil
}

// seedQuote is the price without rules: the seed formula (rules.Seed),
// and a quote without list price, version or explanation.
func (e *Engine) seedQuote(r *Request, base, mult money.Decimal, stale bool, q *Quote) error {
	_, disc, final, err := rules.Seed(base, mult, r.Member)
	if err != nil {
		return newDetailError(StatusInternalServerError, "cannot compute price", err)
	}
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
	return nil
}
