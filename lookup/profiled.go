package lookup

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// timerSlack is how much later than its due time a profiled Call may
// complete so that completions due close together go out together: the
// timer goroutine of a Batcher wakes at most once per timerSlack under
// load, and every Call due by then completes in that wake. The seed
// profile's delays are tens of milliseconds; a millisecond of lateness is
// the price of one wake per millisecond instead of one per Call.
const timerSlack = time.Millisecond

// Wrap returns src with the profile's delays and faults, or src itself if
// the profile is none. A wrapped Source is never [Source.Instant].
//
// The catalog and market delays of a Call are drawn independently and
// run concurrently: the Call completes after the longer of the two (plus
// a stall, if one is drawn). A Call whose delay would pass its Deadline
// completes at the Deadline with an error matching [ErrTimeout]; an
// injected failure completes with an error matching [ErrInjected] and
// [ErrUnavailable]. The inner Source answers first; if it answers at
// once (the memory store) no goroutine and no allocation is spent per
// Call: the Call waits in its Batcher's timer heap, and one goroutine per
// Batcher (started on demand, gone when the heap is empty) completes the
// Calls that are due, in batches (see timerSlack), or, when the Batcher's
// owner gave it a pump ([Pumped]), hands them to the owner's next Flush.
func (p Profile) Wrap(src Source) Source {
	if p.IsNone() {
		return src
	}
	return &profiled{p: p, inner: src, base: time.Now(),
		injected: &injectedError{msg: "cannot look up product and market: " + ErrInjected.Error()}}
}

type profiled struct {
	p        Profile
	inner    Source
	base     time.Time // origin of the timer heap's clock (monotonic)
	injected error
}

// Instant implements [Source]: a profiled source delays every answer.
func (s *profiled) Instant() bool { return false }

// NewBatcher implements [Source].
func (s *profiled) NewBatcher() Batcher {
	return &profileBatcher{s: s, inner: s.inner.NewBatcher(), q: &timerQueue{kick: make(chan struct{}, 1)}}
}

// injectedError is the failure a fault profile injects.
type injectedError struct{ msg string }

func (e *injectedError) Error() string { return e.msg }

// Is reports whether target is ErrInjected or ErrUnavailable.
func (e *injectedError) Is(target error) bool {
	return target == ErrInjected || target == ErrUnavailable
}

// profileBatcher keeps the Calls of one goroutine (one event loop) until
// its Flush hands them to its timer heap. With a pump (SetPump) its
// Lookup hands each Call to the heap at once (a lock, no wake-up of
// anyone: nothing is gained by gathering them), and the timer goroutine
// leaves the due Calls to the owner's Flush, asking for it through the
// pump once per batch of due Calls.
type profileBatcher struct {
	s      *profiled
	inner  Batcher
	q      *timerQueue
	pumped bool         // SetPump was called with a pump
	kept   []timerEntry // since the last Flush
	fired  []timerEntry // scratch of Flush
}

var (
	_ Pumped = (*profileBatcher)(nil)
	_ Keeper = (*profileBatcher)(nil)
)

// SetPump implements [Pumped].
func (b *profileBatcher) SetPump(pump func() bool) {
	b.q.pump = pump
	b.pumped = pump != nil
}

// Kept implements [Keeper]: Calls wait for Flush when the profile keeps
// them, or when a slow inner source does (a networked store sends what it
// gathered only on Flush; one that cannot tell is taken to keep them).
func (b *profileBatcher) Kept() bool {
	if len(b.kept) > 0 {
		return true
	}
	if b.s.inner.Instant() {
		return false
	}
	k, ok := b.inner.(Keeper)
	return !ok || k.Kept()
}

// draw returns the delay of one Call and the error it completes with.
func (s *profiled) draw() (time.Duration, error) {
	p := &s.p
	d := max(p.Catalog.Draw(), p.Market.Draw())
	if p.StallRate > 0 && rand.Float64() < eitherOfTwo(p.StallRate) {
		d += p.StallDur // one of the two lookups stalls before its delay
	}
	if p.ErrRate > 0 && rand.Float64() < eitherOfTwo(p.ErrRate) {
		return d, s.injected
	}
	return d, nil
}

// eitherOfTwo is the probability that at least one of two independent
// lookups, each hit with probability p, is hit.
func eitherOfTwo(p float64) float64 { return 1 - (1-p)*(1-p) }

// Lookup implements [Batcher]: c is answered by the inner source, then
// kept until its delay has passed. It always returns false.
func (b *profileBatcher) Lookup(c *Call) bool {
	s := b.s
	now := time.Since(s.base)
	d, err := s.draw()
	due := now + d
	if !c.Deadline.IsZero() {
		if dl := c.Deadline.Sub(s.base); due > dl {
			due, err = max(dl, now), ErrTimeout
		}
	}
	if s.inner.Instant() {
		b.inner.Lookup(c)
		if b.pumped {
			b.q.pushOne(timerEntry{due: due, c: c, err: err}, s.base)
			return false
		}
		b.kept = append(b.kept, timerEntry{due: due, c: c, err: err})
		return false
	}
	// A slow inner source (not a hot path: profiles are for testing):
	// the delay runs from when it answers.
	w := &innerWait{q: b.q, s: s, done: c.Done, e: timerEntry{due: due, c: c, err: err}}
	c.Done = w.answered
	if b.inner.Lookup(c) {
		c.Done = w.done
		b.kept = append(b.kept, w.e)
	}
	return false
}

// innerWait delays a Call that a slow inner source answers later.
type innerWait struct {
	q    *timerQueue
	s    *profiled
	done func(*Call)
	e    timerEntry
}

func (w *innerWait) answered(c *Call) {
	c.Done = w.done
	if time.Since(w.s.base) >= w.e.due {
		w.e.fire(w.s.base)
		return
	}
	w.q.pushOne(w.e, w.s.base)
}

// Flush implements [Batcher]: the kept Calls enter the timer heap, and
// the Calls already due (with a pump: also those the timer goroutine
// found due) complete now, on the caller's goroutine. A busy
// event loop flushes every iteration, so its Calls complete on time even
// when its timer goroutine waits for a CPU (GOMAXPROCS=1: the loop
// holds the only P while it is busy); the goroutine serves idle periods.
//
// Flush with nothing kept still completes the due Calls, so a caller may
// also flush to pump the heap (the server does after each drain).
func (b *profileBatcher) Flush() {
	b.inner.Flush()
	if len(b.kept) > 0 {
		b.q.push(b.kept, b.s.base)
		clear(b.kept)
		b.kept = b.kept[:0]
	}
	b.q.fireDue(b.s.base, &b.fired)
}

// timerEntry is a Call waiting for its due time (on the profile's clock).
type timerEntry struct {
	due time.Duration
	c   *Call
	err error // set on the Call when it fires, if not nil
}

// fire completes the entry's Call, answered when it was due (its lateness
// is the completing goroutine's wait, which counts as the caller's).
func (e *timerEntry) fire(base time.Time) {
	if e.err != nil {
		e.c.Err = e.err
	}
	e.c.Answered = base.Add(e.due)
	e.c.Done(e.c)
}

// timerQueue is a min-heap of timerEntries with the goroutine that fires
// them. It is shared by one Batcher (push, fireDue) and its goroutine
// (run).
type timerQueue struct {
	mu      sync.Mutex
	h       timerHeap
	running bool          // the goroutine runs (or is about to)
	armed   time.Duration // the due time the goroutine sleeps until
	kick    chan struct{} // buffered(1): an earlier entry arrived
	fired   []timerEntry  // the goroutine's scratch

	// With a pump (set before the first push, read-only after), the
	// goroutine moves due entries to ready and pumps once; the owner's
	// fireDue fires them.
	pump   func() bool
	ready  []timerEntry
	pumped bool // pump was called for the entries in ready
}

// push adds entries, starting the goroutine if it is not running and
// waking it if an entry is due before the time it sleeps until.
func (q *timerQueue) push(es []timerEntry, base time.Time) {
	q.mu.Lock()
	first := time.Duration(math.MaxInt64)
	for _, e := range es {
		q.h.push(e)
		first = min(first, e.due)
	}
	q.armLocked(first, base)
	q.mu.Unlock()
}

// pushOne is push of one entry.
func (q *timerQueue) pushOne(e timerEntry, base time.Time) {
	q.mu.Lock()
	q.h.push(e)
	q.armLocked(e.due, base)
	q.mu.Unlock()
}

// armLocked starts the goroutine, or wakes it if an entry just pushed
// (the earliest due at first) is due before the time it sleeps until.
// Only a new entry can be: the goroutine chose that time knowing the
// others (due within timerSlack of it, the first may be before it). q.mu
// is held.
func (q *timerQueue) armLocked(first time.Duration, base time.Time) {
	switch {
	case !q.running:
		q.running = true
		q.armed = 0
		go q.run(base)
	case first < q.armed:
		q.armed = first
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// fireDue completes the entries that are due, using *scratch.
func (q *timerQueue) fireDue(base time.Time, scratch *[]timerEntry) {
	fired := (*scratch)[:0]
	q.mu.Lock()
	if len(q.ready) == 0 && (len(q.h) == 0 || q.h[0].due > time.Since(base)) {
		q.pumped = false
		q.mu.Unlock()
		return
	}
	fired = append(fired, q.ready...)
	clear(q.ready)
	q.ready, q.pumped = q.ready[:0], false
	now := time.Since(base)
	for len(q.h) > 0 && q.h[0].due <= now {
		fired = append(fired, q.h.pop())
	}
	q.mu.Unlock()
	for i := range fired {
		fired[i].fire(base)
		fired[i] = timerEntry{}
	}
	*scratch = fired[:0]
}

// run fires due entries until the heap is empty, then exits.
func (q *timerQueue) run(base time.Time) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		q.mu.Lock()
		now := time.Since(base)
		due := &q.fired
		if q.pump != nil {
			due = &q.ready
		}
		for len(q.h) > 0 && q.h[0].due <= now {
			*due = append(*due, q.h.pop())
		}
		pump := q.pump != nil && len(q.ready) > 0 && !q.pumped
		q.pumped = q.pumped || pump
		if len(q.h) == 0 && len(q.fired) == 0 {
			q.running = false
			q.mu.Unlock()
			if pump {
				q.pumpOrFire(base)
			}
			return
		}
		next := time.Duration(-1)
		if len(q.h) > 0 {
			next = q.h[0].due
			q.armed = max(next, now+timerSlack)
		}
		q.mu.Unlock()
		if pump {
			q.pumpOrFire(base)
		}
		for i := range q.fired {
			q.fired[i].fire(base)
			q.fired[i] = timerEntry{}
		}
		q.fired = q.fired[:0]
		if next < 0 {
			continue // empty now: check again, and exit if still empty
		}
		t.Reset(max(next-now, timerSlack))
		select {
		case <-t.C:
		case <-q.kick:
			t.Stop()
		}
	}
}

// pumpOrFire asks the owner for a Flush that fires the ready entries; if
// the owner has stopped, the entries are fired here.
func (q *timerQueue) pumpOrFire(base time.Time) {
	if q.pump() {
		return
	}
	q.mu.Lock()
	fired := append([]timerEntry(nil), q.ready...) // rare: not the goroutine's scratch, another may run
	clear(q.ready)
	q.ready, q.pumped = q.ready[:0], false
	q.mu.Unlock()
	for i := range fired {
		fired[i].fire(base)
	}
}

// timerHeap is a binary min-heap of entries by due time (typed, so that
// pushing does not box entries as container/heap would).
type timerHeap []timerEntry

func (h *timerHeap) push(e timerEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].due <= a[i].due {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *timerHeap) pop() timerEntry {
	a := *h
	e := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = timerEntry{}
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a[l].due < a[m].due {
			m = l
		}
		if r := l + 1; r < n && a[r].due < a[m].due {
			m = r
		}
		if m == i {
			break
		}
		a[m], a[i] = a[i], a[m]
		i = m
	}
	*h = a
	return e
}
