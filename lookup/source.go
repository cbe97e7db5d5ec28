package lookup

import (
	"errors"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/loophost"
	"github.com/pricing-engine/pricing-engine/money"
)

// Call is one request's pair of lookups: the base price of ProductID and
// the multiplier of Location, answered together so that they always run
// concurrently (a request takes max(catalog, market), not the sum).
//
// Ownership: the caller fills the inputs and hands the Call to
// [Batcher.Lookup]. If Lookup returns true the Call is answered and belongs
// to the caller again at once. If it returns false, the Source owns the
// Call until it invokes Done(c) (exactly once, from any goroutine); the
// caller must not touch the Call, nor the bytes its inputs point at, until
// then. Calls are meant to be pooled and reused by the caller.
type Call struct {
	// Inputs, set by the caller.
	ProductID []byte
	Location  []byte
	// Deadline is when the lookups give up: a Call not answered by then
	// completes with an error matching [ErrTimeout] (or a stale answer,
	// see Stale). The zero time means no deadline. Callers may leave it
	// unset for a Source whose Instant is true: it answers at once.
	Deadline time.Time
	// Done is called exactly once when Lookup returned false. It must not
	// block: it normally queues the Call for the caller's event loop.
	Done func(*Call)
	// Answered is set by the Source before it calls Done: when the back
	// end's answer (or the deadline's timeout) became available to the
	// process, or for a simulated latency the time the answer was due.
	// The time from Answered to the reply is the caller's own queueing
	// delay, apart from the back end's latency. The zero time: the Source
	// does not say.
	Answered time.Time
	// Traced asks a networked Source to note in Trip the round trip that
	// answered the Call (its request is being traced). Only traced Calls
	// pay for it.
	Traced bool

	// Results, valid once the Call is answered.
	Base money.Decimal // the product's base price
	Mult money.Decimal // the location's multiplier (the default market's for an unknown location)
	// Err is nil, or: a [*NotFoundError] for an unknown product (404), an
	// error matching [ErrInvalidValue] for a stored value that is not a
	// valid decimal in range (502), or an error matching [ErrUnavailable]
	// or [ErrTimeout] when the back end failed or was too slow (503).
	Err error
	// Stale reports that the values are last-known ones, served because
	// the store is unreachable (reply "source":"stale").
	Stale bool
	// Trip is the round trip that answered a Traced Call; zero when none
	// did (an answer from a cache or from memory) or the Call was not
	// traced.
	Trip Trip
}

// Trip is one round trip of a networked Source: one pipelined read that
// answered the Calls of one Flush.
type Trip struct {
	// ID identifies the round trip within the process (never 0).
	ID uint64
	// Start and End are Unix nanoseconds.
	Start, End int64
	// Keys is how many keys it read; Calls how many Calls it answered.
	Keys, Calls int
}

// Reset clears the results and Done, keeping the input buffers' capacity.
func (c *Call) Reset() {
	*c = Call{ProductID: c.ProductID[:0], Location: c.Location[:0]}
}

// Source is where prices and multipliers come from: the memory store, a
// latency profile wrapping a Source, or the Redis store. It is safe for
// concurrent use; the per-goroutine work goes through its Batchers.
type Source interface {
	// NewBatcher returns a Batcher for one goroutine (an event loop, or
	// one admin request). The Batcher is not safe for concurrent use.
	NewBatcher() Batcher
	// Instant reports whether every Lookup answers at once (true for the
	// memory store), so that a caller may skip its completion machinery.
	Instant() bool
}

// Batcher gathers the lookups of one goroutine. It is not safe for
// concurrent use.
type Batcher interface {
	// Lookup answers c at once, returning true with c's results set,
	// without blocking and without allocating (the memory store, a warm
	// client-side cache); or it keeps c, returns false, and later calls
	// c.Done(c) exactly once, no later than shortly after c.Deadline. A
	// kept Call may wait until the next Flush before it is sent.
	Lookup(c *Call) bool
	// Flush sends the Calls kept since the previous Flush: for a
	// networked store, one pipelined round trip per node for all of them.
	// It never blocks. Callers flush once per event-loop iteration (and
	// after the Calls of one batch request).
	Flush()
}

// Pumped is implemented by a Batcher whose kept Calls can complete on
// its caller's goroutine. After SetPump, instead of calling the Calls'
// Done on a goroutine of its own, the Batcher keeps the answered Calls and
// calls pump (from any goroutine; once until the next Flush) to ask its
// caller for a Flush, and that Flush calls Done for every Call answered by
// then: answers that arrive together reach the caller together, in one
// wake-up of its event loop, and the Done calls run on it. pump must not
// block; it returns false when the caller will not Flush again (it has
// stopped), and the Batcher then calls Done itself as without a pump.
// SetPump is called once, before the first Lookup.
type Pumped interface {
	SetPump(pump func() bool)
}

// Hosted is implemented by a Batcher that can keep a back-end connection
// on its caller's event loop ([loophost.Host]), so that the back end's
// replies are read, and its Calls completed, on the loop's goroutine,
// without a hand-off. SetHost is called once, after SetPump and before
// the first Lookup; a Batcher without a pump ignores it. Without a host
// (or while its connection is not up) the Batcher works as before.
type Hosted interface {
	SetHost(h loophost.Host)
}

// Keeper is implemented by a Batcher that can tell whether Calls wait for
// its next Flush to be sent. A Batcher without it is taken to keep the
// Calls it did not answer at once.
type Keeper interface {
	// Kept reports whether Calls kept since the last Flush wait for it
	// (false: Lookup handed them over at once, and Flush only completes
	// what answered).
	Kept() bool
}

// Errors of a Call, matched with errors.Is. Each maps to one HTTP status
// at the edge: ErrNotFound 404, ErrInvalidValue 502, ErrUnavailable and
// ErrTimeout 503 with Retry-After.
var (
	// ErrInvalidValue is matched by a stored value that is not a valid
	// decimal or is out of range.
	ErrInvalidValue = errors.New("invalid stored value")
	// ErrUnavailable is matched when the back end cannot answer (down,
	// breaker open, injected fault).
	ErrUnavailable = errors.New("back end unavailable")
	// ErrTimeout is matched when the Call's deadline passed first.
	ErrTimeout = errors.New("lookup deadline exceeded")
)

// InvalidValueError reports a stored value that is not a valid decimal or
// is out of range: the documented 502 "store value for <key> is invalid".
type InvalidValueError struct {
	Key string // the full store key, e.g. "pricing:product:P-123"
}

// Error implements error.
func (e *InvalidValueError) Error() string { return "store value for " + e.Key + " is invalid" }

// Is reports whether target is [ErrInvalidValue].
func (e *InvalidValueError) Is(target error) bool { return target == ErrInvalidValue }

// Memory is the in-memory [Source]: every Lookup answers at once, on the
// caller's goroutine, without allocating.
type Memory struct {
	Catalog *MemoryCatalog
	Markets *MemoryMarkets
}

var _ Source = (*Memory)(nil)

// NewBatcher implements [Source]. The memory store keeps nothing, so one
// Batcher serves every goroutine.
func (m *Memory) NewBatcher() Batcher { return memoryBatcher{m} }

// Instant implements [Source]: always true.
func (m *Memory) Instant() bool { return true }

type memoryBatcher struct{ m *Memory }

// Lookup answers c at once.
func (b memoryBatcher) Lookup(c *Call) bool {
	b.m.Answer(c)
	return true
}

func (memoryBatcher) Flush() {}

// Answer sets c's results from memory. It does not allocate on success.
func (m *Memory) Answer(c *Call) {
	base, ok := m.Catalog.BasePriceNow(c.ProductID)
	if !ok {
		c.Err = NewNotFound(KindProduct, c.ProductID)
		return
	}
	c.Base = base
	c.Mult = m.Markets.MultiplierNow(c.Location)
	c.Err = nil
	c.Stale = false
}
