package pricing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// DefaultDeadline bounds one Price call when Config.Deadline is zero.
const DefaultDeadline = time.Second

// Names of the lookups and their outcomes, as passed to Config.Observe.
const (
	LookupCatalog = "catalog"
	LookupMarket  = "market"

	OutcomeOK       = "ok"        // answered
	OutcomeNotFound = "not_found" // catalog: unknown product
	OutcomeError    = "error"     // back end failed
	OutcomeTimeout  = "timeout"   // the deadline passed first
	OutcomeCanceled = "canceled"  // the caller's context ended first
)

// MemberDiscountCents is the member discount rate in hundredths: 0.05.
const MemberDiscountCents = 5

// Config configures an [Engine].
type Config struct {
	// Deadline bounds the lookups of one Price call; 0 means
	// DefaultDeadline.
	Deadline time.Duration
	// Observe, if not nil, is called once per lookup made by Price (not
	// by PriceInline, whose in-memory lookups are not timed) with the lookup
	// name (LookupCatalog, LookupMarket), the outcome (OutcomeOK, ...)
	// and how long it took. It is called from the goroutine that ran the
	// lookup, so it must be safe for concurrent use and must not block.
	// The metrics package hooks its histogram here.
	Observe func(lookup, outcome string, d time.Duration)
}

// Engine prices requests. It is safe for concurrent use.
type Engine struct {
	cat     lookup.Catalog
	mk      lookup.Markets
	instCat lookup.InstantCatalog // nil unless cat is instant
	instMk  lookup.InstantMarkets // nil unless mk is instant
	cfg     Config
	gathers sync.Pool // *gather, reused by Price
}

// NewEngine returns an engine over the given lookups.
func NewEngine(cat lookup.Catalog, mk lookup.Markets, cfg Config) *Engine {
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	e := &Engine{cat: cat, mk: mk, cfg: cfg}
	e.instCat, _ = cat.(lookup.InstantCatalog)
	e.instMk, _ = mk.(lookup.InstantMarkets)
	e.gathers.New = func() any { return &gather{done: make(chan struct{}, 1)} }
	return e
}

// Inline reports whether both lookups are in memory and never block, so
// that [Engine.PriceInline] may be used (on an event loop, without a
// goroutine hop).
func (e *Engine) Inline() bool { return e.instCat != nil && e.instMk != nil }

// PriceInline prices r into q using the instant lookups, on the calling
// goroutine and without allocating on success. It may only be called when
// [Engine.Inline] is true; otherwise it returns a 500 *Error. An unknown
// product yields a 404 *Error.
func (e *Engine) PriceInline(r *Request, q *Quote) error {
	if !e.Inline() {
		return newDetailError(StatusInternalServerError, "cannot price inline: lookups may block", nil)
	}
	// In-memory lookups take nanoseconds: timing them would cost more
	// than doing them, so PriceInline does not call Config.Observe.
	base, ok := e.instCat.BasePriceNow(r.ProductID)
	if !ok {
		return notFound(r.ProductID, nil)
	}
	mult := e.instMk.MultiplierNow(r.Location)
	return e.finish(r, q, base, mult)
}

// gather carries the market lookup of one Price call to and from its
// goroutine. It owns a copy of the location so the caller may reuse its
// Request as soon as Price returns, even if the goroutine is still
// finishing.
type gather struct {
	loc  []byte
	mult money.Decimal
	err  error
	done chan struct{} // buffered(1): the goroutine never blocks on send
}

// Price prices r into q. The catalog lookup runs on the calling goroutine
// while the market lookup runs on one extra goroutine, so a request takes
// max(catalog, market), not the sum. Both run under ctx bounded by
// Config.Deadline. Errors are *Error: 404 for an unknown product, 503
// with RetryAfter 1 when a lookup fails, times out or ctx ends.
//
// Price returns as soon as the deadline passes even if a lookup ignores
// its context; lookups that honour ctx (all in package lookup do) then
// end promptly too, so no goroutine outlives the call for long.
func (e *Engine) Price(ctx context.Context, r *Request, q *Quote) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Deadline)
	defer cancel()

	g := e.gathers.Get().(*gather)
	g.loc = append(g.loc[:0], r.Location...)
	go e.marketLookup(ctx, g)

	start := time.Now()
	base, err := e.cat.BasePrice(ctx, r.ProductID)
	if err != nil {
		e.observe(LookupCatalog, outcomeOf(err), start)
		// g is abandoned to the garbage collector: its goroutine may
		// still be running. cancel (deferred) ends it.
		return lookupError(LookupCatalog, r.ProductID, err)
	}
	e.observe(LookupCatalog, OutcomeOK, start)

	select {
	case <-g.done:
	case <-ctx.Done():
		// The goroutine observes the market outcome when it ends.
		return lookupError(LookupMarket, nil, ctx.Err())
	}
	mult, err := g.mult, g.err
	g.err = nil
	e.gathers.Put(g) // the goroutine has sent: it no longer touches g
	if err != nil {
		return lookupError(LookupMarket, nil, err)
	}
	return e.finish(r, q, base, mult)
}

func (e *Engine) marketLookup(ctx context.Context, g *gather) {
	start := time.Now()
	defer func() {
		// This goroutine is the engine's own: a panicking Markets must
		// not take the process down. It becomes a failed lookup (503).
		if v := recover(); v != nil {
			g.err = fmt.Errorf("market lookup panicked: %v", v)
			e.observe(LookupMarket, OutcomeError, start)
			g.done <- struct{}{}
		}
	}()
	g.mult, g.err = e.mk.Multiplier(ctx, g.loc)
	if g.err != nil {
		e.observe(LookupMarket, outcomeOf(g.err), start)
	} else {
		e.observe(LookupMarket, OutcomeOK, start)
	}
	g.done <- struct{}{}
}

func (e *Engine) observe(name, outcome string, start time.Time) {
	if e.cfg.Observe != nil {
		e.cfg.Observe(name, outcome, time.Since(start))
	}
}

// finish computes the quote: final = round(base * mult * (1 - discount), 2).
func (e *Engine) finish(r *Request, q *Quote, base, mult money.Decimal) error {
	var disc money.Decimal // 0 for non-members
	if r.Member {
		disc = money.New(MemberDiscountCents, 2)
	}
	keep, err := money.New(1, 0).Sub(disc)
	if err == nil {
		var p money.Decimal
		if p, err = base.Mul(mult); err == nil {
			if p, err = p.Mul(keep); err == nil {
				q.ProductID = append(q.ProductID[:0], r.ProductID...)
				q.Final = p.Round(2)
				q.Base = base
				q.Multiplier = mult
				q.Discount = disc
				q.Source = SourceLive
				return nil
			}
		}
	}
	return newDetailError(StatusInternalServerError, "cannot compute price", err)
}

func outcomeOf(err error) string {
	switch {
	case errors.Is(err, lookup.ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeError
}

func notFound(id []byte, cause error) *Error {
	return newDetailError(StatusNotFound, `unknown product_id "`+string(id)+`"`, cause)
}

// lookupError maps a lookup failure to a *Error.
func lookupError(name string, id []byte, err error) *Error {
	switch outcomeOf(err) {
	case OutcomeNotFound:
		if name == LookupCatalog {
			return notFound(id, err)
		}
	case OutcomeTimeout:
		return newDetailError(StatusServiceUnavailable, name+" lookup timed out", err)
	case OutcomeCanceled:
		return newDetailError(StatusServiceUnavailable, name+" lookup canceled", err)
	}
	return newDetailError(StatusServiceUnavailable, name+" lookup failed", err)
}
