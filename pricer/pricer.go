// Package pricer says what an HTTP server needs of a pricing engine: an
// engine that hands out one [Loop] per event loop and [Exchange]s to
// carry requests, and blocks for callers that own a goroutine per
// request. It imports nothing of the module but the leaf
// [loophost] (what an event loop offers back-end connections), so a
// server written against it depends on no store, rules or demand code;
// package pricing implements it.
package pricer

import (
	"time"

	"github.com/pricing-engine/pricing-engine/internal/loophost"
)

// Reply is the HTTP reply to one request: its status, its Retry-After
// seconds (0: none) and its JSON body. The engine overwrites it in place
// for each request; Body keeps its capacity, and its owner may drop a
// large one (set it to nil) between requests.
type Reply struct {
	Status     int
	RetryAfter int
	Body       []byte
	// Answered is when the lookups a pending request waited for answered
	// (for a batch, the last of its items), as the lookup source tells;
	// the zero time for a reply made at once, or when the source does not
	// tell. The time from it to the reply is the server's own queueing
	// delay, apart from the back end's latency.
	Answered time.Time
}

// Exchange is one request in flight, made by [Engine.NewExchange] and
// meant to be reused, one request after another. It is only ever passed
// back to the engine that made it.
type Exchange interface {
	// Result returns the exchange's reply; the pointer is the same for
	// the exchange's life. The reply is valid once Serve or ServeBatch
	// returned true, Complete ran, or Price or PriceBatch returned, and
	// until the exchange serves its next request.
	Result() *Reply
	// Trace returns the exchange's trace notes; the pointer is the same
	// for the exchange's life.
	Trace() *Trace
}

// Engine prices requests.
type Engine interface {
	// NewLoop returns the pricing handle of one event loop.
	NewLoop() Loop
	// NewExchange returns an exchange whose done is called exactly once,
	// from any goroutine, when the lookups of a request that a Loop left
	// pending have answered; done must not block (it normally queues the
	// exchange for its loop). done may be nil for an exchange only used
	// with Price, PriceBatch or requests the loop answers at once (see
	// Loop.Instant).
	NewExchange(done func()) Exchange
	// Price decodes body as a price request and prices it on the calling
	// goroutine, blocking until its lookups answered (no later than
	// shortly after the lookup deadline); the reply is in x.Result(). It
	// is for callers that own a goroutine per request; the request is
	// not counted for the demand rules. It is safe for concurrent use
	// with distinct exchanges.
	Price(x Exchange, body []byte)
	// PriceBatch is Price for a batch request.
	PriceBatch(x Exchange, body []byte)
	// VerifyQuote decodes body as a quote verification request and
	// makes its reply in x (200 with the signed fields, 410 expired, 422
	// refused or quotes not enabled, 400/422 bad body). It needs no
	// lookup: it never blocks, so event loops call it inline. It is safe
	// for concurrent use with distinct exchanges.
	VerifyQuote(x Exchange, body []byte)
	// BatchItems returns how many items a batch request body asks for,
	// at least 1 and at most the most a batch may hold, by a lenient
	// scan that does not validate the body (Loop.ServeBatch does), so
	// that admission control can weigh a batch before decoding it. It
	// does not allocate, and is safe for concurrent use.
	BatchItems(body []byte) int
}

// Loop is the pricing side of one event loop. It is not safe for
// concurrent use: only its event loop's goroutine calls its methods, and
// none of them blocks.
type Loop interface {
	// Instant reports whether every lookup answers at once: Serve and
	// ServeBatch then always return true.
	Instant() bool
	// Serve decodes body as a price request into x and begins its
	// lookups, with the deadline counted from arrived (when the
	// request's bytes arrived). It returns true when the reply is made;
	// false when the lookups are pending: x's done is then called once,
	// and the caller must not touch x until then, and then calls
	// Complete (or Discard) on the loop's goroutine.
	Serve(x Exchange, body []byte, arrived time.Time) bool
	// ServeBatch is Serve for a batch request.
	ServeBatch(x Exchange, body []byte, arrived time.Time) bool
	// Complete makes the reply of x once its done was called.
	Complete(x Exchange)
	// Discard forgets x, whose done was called but whose requester went
	// away, instead of completing it.
	Discard(x Exchange)
	// Flush sends the lookups left pending since the previous Flush. The
	// loop calls it once per iteration in which Serve or ServeBatch
	// returned false and Kept reported true, and when pumped (SetPump).
	Flush()
	// Kept reports whether lookups left pending since the previous Flush
	// wait for it to be sent (false: the source took them at once).
	Kept() bool
	// SetPump gives the Loop a function that asks the event loop to call
	// Flush soon, from any goroutine, without blocking; it returns false
	// once the event loop has stopped. A lookup source that can complete
	// on the event loop's goroutine then asks for a Flush when answers
	// are ready instead of completing elsewhere, and the exchanges' done
	// run inside that Flush. Call it once, before the first Serve.
	SetPump(pump func() bool)
	// SetHost gives the Loop its event loop as a [loophost.Host]: a
	// lookup source that keeps a back-end connection on each event loop
	// attaches it there, and its replies complete the exchanges on the
	// loop. Call it once, after SetPump and before the first Serve.
	SetHost(h loophost.Host)
	// Tick is called from the loop's periodic tick, with the time.
	Tick(now time.Time)
}

// MaxTrips is how many store round trips a [Trace] keeps.
const MaxTrips = 4

// Trace is what the engine notes about one request for the server's
// spans. The server sets On before Serve or ServeBatch, true only for a
// request it traces; the engine fills the rest only when On, so an
// untraced request costs it a branch. The fields are valid when the reply
// is, until the exchange serves its next request; byte slices are views
// into the exchange's decoded request.
type Trace struct {
	On bool
	// Source is the source of a single request's quote ("live",
	// "stale"), "" when there is none (a refusal, a batch).
	Source string
	// Cached reports a single request answered at once by a store that
	// may block (its client-side cache): no round trip served it.
	Cached bool
	// ProductID and Location are a single request's inputs.
	ProductID, Location []byte
	// RulesAt is when a ruleset priced the request (Unix ns), 0 when none
	// did; RulesVersion is that ruleset's version.
	RulesAt      int64
	RulesVersion string
	// Trips are the store round trips that answered the request's
	// lookups (a batch's items may share them); TripsDropped counts
	// those past MaxTrips.
	Trips        [MaxTrips]Trip
	NTrips       int
	TripsDropped int
}

// Trip is one store round trip: one pipelined read that answered the
// lookups of several requests.
type Trip struct {
	// ID identifies the round trip within the process (never 0).
	ID uint64
	// Start and End are Unix nanoseconds.
	Start, End int64
	// Keys is how many keys it read; Calls how many requests' lookups it
	// answered, traced or not.
	Keys, Calls int
}

// Reset clears t for the next request, keeping On.
func (t *Trace) Reset() { *t = Trace{On: t.On} }

// AddTrip records that trip answered the request, once per ID.
func (t *Trace) AddTrip(trip Trip) {
	for _, have := range t.Trips[:t.NTrips] {
		if have.ID == trip.ID {
			return
		}
	}
	if t.NTrips == MaxTrips {
		t.TripsDropped++
		return
	}
	t.Trips[t.NTrips] = trip
	t.NTrips++
}
