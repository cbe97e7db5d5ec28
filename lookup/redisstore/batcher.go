package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// starID is the default market's location; read only.
var starID = []byte(lookup.DefaultMarket)

// one is the multiplier when neither the location nor "*" exists.
var one = money.New(1, 0)

// batcher is one goroutine's [lookup.Batcher]: hits are answered in
// Lookup; misses wait in pending until Flush hands them to a sender. With
// a pump (SetPump) the sender hands the answered Calls back (ready) and
// pumps once; the owner's next Flush calls their Done on its goroutine.
type batcher struct {
	s       *Store
	key     []byte
	pending []*lookup.Call
	pump    func() bool
	done    []*lookup.Call // Flush's scratch
	lc      *loopConn      // the connection on the caller's loop; nil without a host

	mu     sync.Mutex
	ready  []*lookup.Call // answered by a sender, for the next Flush
	pumped bool           // pump was called for the Calls in ready
}

var (
	_ lookup.Pumped = (*batcher)(nil)
	_ lookup.Keeper = (*batcher)(nil)
	_ lookup.Hosted = (*batcher)(nil)
)

// SetPump implements [lookup.Pumped].
func (b *batcher) SetPump(pump func() bool) { b.pump = pump }

// Kept implements [lookup.Keeper].
func (b *batcher) Kept() bool { return len(b.pending) > 0 }

// NewBatcher implements [lookup.Source].
func (s *Store) NewBatcher() lookup.Batcher {
	return &batcher{s: s, key: make([]byte, 0, 1+lookup.MaxKeyLen+8)}
}

// Lookup implements [lookup.Batcher]. A Call whose keys are all fresh in
// the client-side cache is answered at once without allocating: live
// while Redis is known to be alive (LiveWithin), else stale (from values
// used within StaleFor). With the breaker open, or before Redis has
// answered once, it is answered at once from the last known values, or
// with ErrUnavailable; otherwise it waits for Flush.
func (b *batcher) Lookup(c *lookup.Call) bool {
	s := b.s
	if s.cache != nil {
		if s.isLive() {
			if s.answerCached(c, &b.key, s.cache.epoch.Load(), 0) {
				return true
			}
		} else if s.staleFor > 0 && s.answerCached(c, &b.key, 0, s.clock.Load()-int64(s.staleFor)) {
			return true
		}
	}
	if s.open.Load() || !s.connected.Load() {
		s.answerDown(c, &b.key, lookup.ErrUnavailable)
		return true
	}
	b.pending = append(b.pending, c)
	return false
}

// Flush implements [lookup.Batcher]: the pending Calls go as one round
// trip on the loop connection when it is up (loopconn.go), else to a
// sender as one batch (one pipelined round trip per node). It never
// blocks.
func (b *batcher) Flush() {
	if b.pump != nil {
		b.completeReady()
	}
	if len(b.pending) == 0 {
		return
	}
	if lc := b.lc; lc != nil && lc.up() {
		if lc.gathering() {
			return // sent when the round trip in flight is answered
		}
		lc.send(b.pending)
	} else {
		b.toSenders(b.pending)
	}
	clear(b.pending)
	b.pending = b.pending[:0]
}

// toSenders hands calls to a sender as one batch, without blocking: when
// every sender is busy and the queue is full, the batch is answered at
// once from last known values or with ErrUnavailable.
func (b *batcher) toSenders(calls []*lookup.Call) {
	s := b.s
	bt := s.batches.Get().(*batch)
	if b.pump != nil {
		bt.owner = b
	}
	bt.calls = append(bt.calls[:0], calls...)
	select {
	case s.work <- bt:
	default:
		go s.reject(bt, lookup.ErrUnavailable)
	}
}

// completeReady calls Done for the Calls the senders answered, on the
// owner's goroutine.
func (b *batcher) completeReady() {
	b.mu.Lock()
	b.done = append(b.done[:0], b.ready...)
	clear(b.ready)
	b.ready, b.pumped = b.ready[:0], false
	b.mu.Unlock()
	for i, c := range b.done {
		b.done[i] = nil
		c.Done(c)
	}
}

// deliver completes the answered Calls of bt: hands them to their owner
// and pumps (once until its next Flush), or, without an owner or once the
// owner has stopped, calls their Done here.
func (s *Store) deliver(bt *batch) {
	o := bt.owner
	if o == nil {
		for _, c := range bt.calls {
			c.Done(c)
		}
		return
	}
	o.mu.Lock()
	o.ready = append(o.ready, bt.calls...)
	pump := !o.pumped
	o.pumped = true
	o.mu.Unlock()
	if !pump || o.pump() {
		return
	}
	o.mu.Lock()
	calls := append([]*lookup.Call(nil), o.ready...) // rare: the owner has stopped
	clear(o.ready)
	o.ready, o.pumped = o.ready[:0], false
	o.mu.Unlock()
	for _, c := range calls {
		c.Done(c)
	}
}

// cached returns the cache slot of (tag, id) if it is usable: fresh in
// epoch ep when staleAfter is 0, else used after staleAfter (Unix ns). It
// builds the compact key in *buf.
func (s *Store) cached(buf *[]byte, tag byte, id []byte, ep uint32, staleAfter int64) *slot {
	k := append(append((*buf)[:0], tag), id...)
	*buf = k
	sl := s.cache.get(k)
	if sl == nil || sl.kind == 0 {
		return nil
	}
	if staleAfter == 0 {
		if sl.epoch.Load() != ep {
			return nil
		}
	} else if sl.used.Load() < staleAfter {
		return nil
	}
	return sl
}

// answerCached answers c from the cache if every key it needs is usable
// (see cached; the answer is marked stale when staleAfter is not 0), and
// records the use of those keys: a key answered from the cache stays
// servable as stale for StaleFor, like one read from Redis.
func (s *Store) answerCached(c *lookup.Call, buf *[]byte, ep uint32, staleAfter int64) bool {
	p := s.cached(buf, tagProduct, c.ProductID, ep, staleAfter)
	if p == nil {
		return false
	}
	l := s.cached(buf, tagMarket, c.Location, ep, staleAfter)
	if l == nil {
		return false
	}
	d := l
	if l.kind == kindAbsent {
		if d = s.cached(buf, tagMarket, starID, ep, staleAfter); d == nil {
			return false
		}
	}
	s.resolve(c, entry{val: p.val, kind: p.kind}, entry{val: l.val, kind: l.kind}, entry{val: d.val, kind: d.kind})
	now := s.clock.Load()
	p.touch(now)
	l.touch(now)
	d.touch(now)
	if staleAfter == 0 {
		s.cache.shard(*buf).hits.Add(1)
	} else {
		c.Stale = true
		s.stale.Add(1)
	}
	return true
}

// answerDown answers c when Redis cannot: from values used within
// StaleFor, else with err.
func (s *Store) answerDown(c *lookup.Call, buf *[]byte, err error) {
	if s.cache != nil && s.staleFor > 0 {
		if s.answerCached(c, buf, 0, s.clock.Load()-int64(s.staleFor)) {
			return
		}
	}
	c.Err = err
	c.Stale = false
}

// resolve sets c's results from the product entry p, the location entry
// l and (when l is absent) the default market entry d.
func (s *Store) resolve(c *lookup.Call, p, l, d entry) {
	c.Stale = false
	switch p.kind {
	case kindAbsent:
		c.Err = lookup.NewNotFound(lookup.KindProduct, c.ProductID)
		return
	case kindInvalid:
		c.Err = &lookup.InvalidValueError{Key: s.keys.Product(string(c.ProductID))}
		return
	}
	m, loc := l, c.Location
	if l.kind == kindAbsent {
		m, loc = d, starID
	}
	switch m.kind {
	case kindAbsent:
		c.Mult = one
	case kindInvalid:
		c.Err = &lookup.InvalidValueError{Key: s.keys.Market(string(loc))}
		return
	default:
		c.Mult = m.val
	}
	c.Base = p.val
	c.Err = nil
}

// flight is one read of one key, shared by every batch that needs the key
// while it is in flight (coalescing). e and err are set before done is
// closed.
type flight struct {
	done chan struct{}
	e    entry
	err  error
}

type ownKey struct {
	k     string
	f     *flight
	inval uint64
}

// batch is the Calls of one Flush and the sender's scratch space.
type batch struct {
	owner   *batcher // the pumped batcher the Calls go back to; nil: call Done
	calls   []*lookup.Call
	res     map[string]entry   // keys known for this batch
	flights map[string]*flight // keys read by this or another batch
	own     []ownKey           // the keys this batch reads
	cmds    rueidis.Commands
	buf     []byte
}

func newBatch() *batch {
	return &batch{res: make(map[string]entry), flights: make(map[string]*flight)}
}

func (s *Store) putBatch(b *batch) {
	b.owner = nil
	clear(b.calls)
	b.calls = b.calls[:0]
	clear(b.res)
	clear(b.flights)
	clear(b.own)
	b.own = b.own[:0]
	clear(b.cmds)
	b.cmds = b.cmds[:0]
	s.batches.Put(b)
}

// reject answers every Call of b without asking Redis.
func (s *Store) reject(b *batch, err error) {
	now := time.Now()
	for _, c := range b.calls {
		s.answerDown(c, &b.buf, err)
		c.Answered = now
	}
	s.deliver(b)
	s.putBatch(b)
}

// sender runs batches until Close.
func (s *Store) sender() {
	defer s.wg.Done()
	for {
		select {
		case <-s.quit:
			return
		case b := <-s.work:
			s.process(b)
		}
	}
}

// process reads the keys of b's Calls that are not fresh in the cache
// (one DoMulti: one pipelined round trip per node), joining reads already
// in flight for the same keys, and answers every Call by the earliest
// deadline among them.
func (s *Store) process(b *batch) {
	now := time.Now()
	deadline := earliestDeadline(b.calls, now)
	if !deadline.After(now) {
		s.reject(b, lookup.ErrTimeout)
		return
	}
	if s.open.Load() {
		s.reject(b, lookup.ErrUnavailable)
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var ep uint32
	if s.cache != nil {
		ep = s.cache.epoch.Load()
	}
	// Cached values answer live only while Redis is known alive; else
	// every key is read (a reply proves the connection alive again).
	live := s.isLive()
	for _, c := range b.calls {
		s.need(b, tagProduct, c.ProductID, ep, live)
		s.need(b, tagMarket, c.Location, ep, live)
		s.need(b, tagMarket, starID, ep, live)
	}
	start, end := s.read(ctx, b, ep)
	for k, f := range b.flights {
		if _, ok := b.res[k]; ok {
			continue
		}
		select {
		case <-f.done:
		case <-ctx.Done():
		}
	}
	answered := time.Now()
	var trip lookup.Trip // made for the first traced Call
	for _, c := range b.calls {
		if err := s.answerFetched(c, b); err != nil {
			s.answerDown(c, &b.buf, errTimeoutOr(ctx, err))
		}
		c.Answered = answered
		if c.Traced && len(b.own) > 0 {
			if trip.ID == 0 {
				trip = lookup.Trip{ID: s.trips.Add(1), Start: start, End: end, Keys: len(b.own), Calls: len(b.calls)}
			}
			c.Trip = trip
		}
	}
	s.deliver(b)
	s.putBatch(b)
}

// earliestDeadline is when the first of calls gives up: the earliest
// Deadline, bounded by now + DefaultMaxWait (a Call without one).
func earliestDeadline(calls []*lookup.Call, now time.Time) time.Time {
	deadline := now.Add(DefaultMaxWait)
	for _, c := range calls {
		if !c.Deadline.IsZero() && c.Deadline.Before(deadline) {
			deadline = c.Deadline
		}
	}
	return deadline
}

// need records that b needs the key (tag, id): known fresh (only when
// live), or read by a flight (this batch's own, or another batch's).
func (s *Store) need(b *batch, tag byte, id []byte, ep uint32, live bool) {
	k := append(append(b.buf[:0], tag), id...)
	b.buf = k
	if _, ok := b.res[string(k)]; ok {
		return
	}
	if _, ok := b.flights[string(k)]; ok {
		return
	}
	if s.cache != nil && live {
		if sl := s.cache.get(k); sl != nil && sl.epoch.Load() == ep {
			sl.touch(s.clock.Load())
			b.res[string(k)] = entry{val: sl.val, kind: sl.kind, epoch: ep}
			return
		}
	}
	ks := string(k)
	s.flightMu.Lock()
	f := s.flights[ks]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flights[ks] = f
		var inval uint64
		if s.cache != nil {
			inval = s.cache.snapshot(k)
		}
		b.own = append(b.own, ownKey{k: ks, f: f, inval: inval})
	}
	s.flightMu.Unlock()
	b.flights[ks] = f
}

// read sends b's own keys in one DoMulti and completes their flights. It
// returns when the round trip began and ended (Unix ns), zero without
// one.
func (s *Store) read(ctx context.Context, b *batch, ep uint32) (start, end int64) {
	if len(b.own) == 0 {
		return 0, 0
	}
	for _, o := range b.own {
		b.cmds = append(b.cmds, s.client.B().Get().Key(s.fullKey(o.k)).Build())
	}
	began := time.Now()
	rs := s.client.DoMulti(ctx, b.cmds...)
	took := time.Since(began)
	if ctx.Err() != nil {
		// An aborted DoMulti leaves the commands with rueidis until the
		// late replies arrive: this slice must not be reused.
		b.cmds = nil
	}
	if s.observe != nil {
		s.observe(took)
	}
	now := time.Now().UnixNano()
	var firstErr error
	for i, o := range b.own {
		e, err := s.parse(o.k, rs[i], now)
		if err != nil {
			o.f.err = err
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		e.epoch = ep
		o.f.e = e
		s.misses.Add(1)
		if s.cache != nil {
			s.cache.put(o.k, e, ep, o.inval)
		}
	}
	s.flightMu.Lock()
	for _, o := range b.own {
		delete(s.flights, o.k)
	}
	s.flightMu.Unlock()
	for _, o := range b.own {
		close(o.f.done)
	}
	if firstErr != nil {
		s.failure(firstErr)
	} else {
		s.alive(now)
		s.success()
	}
	return began.UnixNano(), began.Add(took).UnixNano()
}

// answerFetched answers c from the keys b knows; it returns the read
// error of a key c needs, if any.
func (s *Store) answerFetched(c *lookup.Call, b *batch) error {
	p, err := b.get(tagProduct, c.ProductID)
	if err != nil {
		return err
	}
	l, err := b.get(tagMarket, c.Location)
	if err != nil {
		return err
	}
	var d entry
	if l.kind == kindAbsent {
		if d, err = b.get(tagMarket, starID); err != nil {
			return err
		}
	}
	s.resolve(c, p, l, d)
	return nil
}

// get returns the entry b knows for (tag, id): from the cache, or from a
// completed flight; a flight not completed yet reports a timeout.
func (b *batch) get(tag byte, id []byte) (entry, error) {
	k := append(append(b.buf[:0], tag), id...)
	b.buf = k
	if e, ok := b.res[string(k)]; ok {
		return e, nil
	}
	f := b.flights[string(k)]
	select {
	case <-f.done:
		if f.err != nil {
			return entry{}, f.err
		}
		return f.e, nil
	default:
		return entry{}, context.DeadlineExceeded
	}
}
