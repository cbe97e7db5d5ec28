package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pricing-engine/pricing-engine/internal/loophost"
	"github.com/pricing-engine/pricing-engine/lookup"
)

// Loop connections. A batcher given a host (lookup.Hosted: the server's
// event loop) keeps a connection of its own to a standalone Redis,
// attached to that loop: Flush writes the iteration's GETs on it from
// the loop's goroutine, and the loop reads the replies in the same epoll
// wait as its clients' requests and completes the Calls there. A miss
// then costs no hand-off between goroutines (to a sender, to rueidis'
// writer, back from its reader, back to the loop), which is most of what
// a miss costs when each round trip carries one request.
//
// The connection is plain RESP2 (AUTH, SELECT and PING at connect, GET
// after), made only when the store talks to one standalone node without
// TLS; with TLS, Sentinel or a cluster, and whenever the connection is
// not up (connecting, lost, too many round trips in flight), misses go
// to the senders as before. Replies arrive in the order the GETs were
// sent, so round trips are a queue. A round trip past its deadline is
// answered at once (stale or ErrTimeout) and counted as a failure for the
// breaker; its late replies are read and cached when they come. A
// connection whose oldest round trip has had no reply for LiveWithin is
// closed and made again. The client-side cache is kept by the same rules
// as the senders' reads: a key is read only when it is not fresh, and a
// read that raced with an invalidation of its shard is kept only as a
// last known value.

const (
	// loopMaxTrips bounds the round trips in flight on one loop
	// connection; past it the batch goes to the senders.
	loopMaxTrips = 512
	// loopDialTimeout bounds connecting and the handshake.
	loopDialTimeout = 2 * time.Second
)

// Why a loop connection is not made: not yet (Redis has not answered
// the store once), or never (the store found a cluster).
var (
	errNotConnected  = errors.New("store not connected yet")
	errNotStandalone = errors.New("store is not one standalone node")
)

// directOptions is what a loop connection needs to connect: set when the
// store's URL names one node without TLS or Sentinel. The password never
// reaches an error or a log.
type directOptions struct {
	user, password string
	db             int
}

// loopConn is one batcher's connection on its event loop. Fields without
// a note are touched only on the loop's goroutine.
type loopConn struct {
	s    *Store
	b    *batcher
	host loophost.Host
	c    loophost.Conn // nil while not up

	trips []*trip // in flight, oldest first: trips[head:]
	head  int
	// waiting counts the trips in flight whose Calls wait (not
	// abandoned); sending is set while send writes.
	waiting int
	sending bool
	free    []*trip
	out     []byte
	buf     []byte // compact keys, for answerDown

	// The deadline timer: armed (at armedAt, Unix ns) while round trips
	// are in flight; it runs check on the loop. It is reset only when a
	// round trip's deadline comes before the time it is armed for, so
	// that a busy connection does not reset it per round trip.
	timer   *time.Timer
	armedAt int64
	checkFn func()

	// redial is signalled (on the loop) when the connection ended, for
	// the dialer goroutine.
	redial chan struct{}
}

// trip is one round trip on a loop connection: the Calls of one Flush and
// the keys they need, read or known fresh.
type trip struct {
	calls []*lookup.Call
	idx   [][3]int32 // per Call: its product, market and default market keys
	keys  []tripKey
	arena []byte  // the compact keys, back to back
	table []int32 // open addressing over keys (-1: empty)
	sent  []int32 // the keys read, in the order their GETs were sent
	next  int     // replies received
	ep    uint32
	// start is when the round trip began (its GETs built, then
	// written), deadline when the Calls give up (Unix ns).
	start, deadline int64
	// abandoned: the Calls were answered without the replies (deadline);
	// the replies are still read and cached.
	abandoned bool
}

// tripKey is one key of a trip.
type tripKey struct {
	off, end int32 // the compact key, in arena
	e        entry
	err      error
	inval    uint64 // the shard's invalidation count when sent
}

// SetHost implements [lookup.Hosted]: with a pump, and when the store
// can use loop connections, the batcher connects to Redis on h's loop in
// the background.
func (b *batcher) SetHost(h loophost.Host) {
	s := b.s
	if b.pump == nil || s.direct == nil || b.lc != nil {
		return
	}
	lc := &loopConn{s: s, b: b, host: h, redial: make(chan struct{}, 1)}
	lc.checkFn = lc.check
	lc.timer = time.AfterFunc(time.Hour, func() { h.Run(lc.checkFn) })
	lc.timer.Stop()
	b.lc = lc
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	select {
	case <-s.quit:
		return
	default:
	}
	s.loopConns = append(s.loopConns, lc)
	s.wg.Add(1)
	go lc.dialer()
}

// up reports whether Flush may send on the connection.
func (lc *loopConn) up() bool {
	return lc.c != nil && len(lc.trips)-lc.head < loopMaxTrips
}

// gathering reports whether a round trip whose Calls wait is in flight:
// Flush then keeps the Calls, and sends them together when its replies
// have arrived (the loop flushes after reading them) or its deadline
// passed. One round trip at a time costs nothing when requests are
// spread out (none is in flight) and makes the batches grow with the
// rate otherwise, as a shared pipeline would: fewer, larger writes for
// both sides.
func (lc *loopConn) gathering() bool { return lc.c != nil && lc.waiting > 0 }

// dialer connects and attaches the connection to the loop, and again
// each time it ends, with backoff, until Close or the loop stops.
func (lc *loopConn) dialer() {
	s := lc.s
	defer s.wg.Done()
	s.retry(0, func(attempt int) (done, reset bool) {
		err := lc.connect()
		switch {
		case errors.Is(err, loophost.ErrStopped) || errors.Is(err, errNotStandalone):
			return true, false
		case err == nil:
			select {
			case <-s.quit:
				return true, false
			case <-lc.redial: // the connection ended
				return false, true
			}
		case attempt&(attempt-1) == 0 && !errors.Is(err, errNotConnected):
			s.log.Warn("store loop connection failed, reads go through the shared connection meanwhile", "store", s.redacted, "attempts", attempt, "err", err)
		}
		return false, false
	})
}

// connect dials Redis, authenticates, selects the database and attaches
// the connection to the loop. Before the store is connected (Redis has
// answered once) it fails without dialing.
func (lc *loopConn) connect() error {
	s := lc.s
	if !s.connected.Load() {
		return errNotConnected // the store says why, and retries
	}
	if s.loopAddr == "" {
		return errNotStandalone
	}
	ctx, cancel := context.WithTimeout(s.ctx, loopDialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.loopAddr)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", s.loopAddr, err)
	}
	if err := handshake(c, s.direct, time.Now().Add(loopDialTimeout)); err != nil {
		_ = c.Close()
		return fmt.Errorf("cannot set up connection to %s: %w", s.loopAddr, err)
	}
	return lc.host.Attach(c, lc)
}

// handshake sends AUTH (with a password), SELECT (for a database other
// than 0) and PING on c, and checks their replies, by deadline.
func handshake(c net.Conn, o *directOptions, deadline time.Time) error {
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	var cmds []byte
	n := 1
	if o.password != "" {
		if o.user != "" {
			cmds = appendCommand(cmds, []byte("AUTH"), []byte(o.user), []byte(o.password))
		} else {
			cmds = appendCommand(cmds, []byte("AUTH"), []byte(o.password))
		}
		n++
	}
	if o.db != 0 {
		cmds = appendCommand(cmds, []byte("SELECT"), []byte(strconv.Itoa(o.db)))
		n++
	}
	cmds = appendCommand(cmds, []byte("PING"))
	if _, err := c.Write(cmds); err != nil {
		return err
	}
	buf := make([]byte, 0, 512)
	for n > 0 {
		r, used, err := parseReply(buf)
		if err != nil {
			return err
		}
		if used == 0 {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			m, err := c.Read(buf[len(buf):cap(buf)])
			if err != nil {
				return err
			}
			buf = buf[:len(buf)+m]
			continue
		}
		if r.kind == replyError {
			// Redis's error text (WRONGPASS, NOPERM...) never holds
			// the password.
			return fmt.Errorf("redis refused: %s", r.data)
		}
		buf = buf[used:]
		n--
	}
	return c.SetDeadline(time.Time{})
}

// Opened implements [loophost.Handler].
func (lc *loopConn) Opened(c loophost.Conn) {
	select {
	case <-lc.s.quit:
		c.Close()
		return
	default:
	}
	lc.c = c
	lc.s.loopUp.Add(1)
}

// Closed implements [loophost.Handler]: the Calls in flight go to the
// senders (a GET may be sent again: their deadlines still hold), and the
// dialer connects again.
func (lc *loopConn) Closed(err error) {
	if lc.c != nil {
		lc.s.loopUp.Add(-1)
	}
	lc.c = nil
	lc.timer.Stop()
	lc.armedAt = 0
	if lc.head < len(lc.trips) {
		if err == nil {
			err = errors.New("connection closed")
		}
		lc.s.failure(fmt.Errorf("store loop connection lost: %w", err))
	}
	for _, t := range lc.trips[lc.head:] {
		if !t.abandoned {
			lc.b.toSenders(t.calls)
		}
		lc.putTrip(t)
	}
	clear(lc.trips)
	lc.trips, lc.head, lc.waiting = lc.trips[:0], 0, 0
	if b := lc.b; !lc.sending && len(b.pending) > 0 {
		// Calls gathered behind the lost round trip: no Flush may
		// come for them soon.
		b.toSenders(b.pending)
		clear(b.pending)
		b.pending = b.pending[:0]
	}
	select {
	case lc.redial <- struct{}{}:
	default:
	}
}

// Received implements [loophost.Handler]: each reply fills the next key
// of the oldest round trip; a round trip complete is answered.
func (lc *loopConn) Received(p []byte) int {
	off := 0
	for off < len(p) {
		r, n, err := parseReply(p[off:])
		if err == nil && n > 0 && lc.head == len(lc.trips) {
			err = errors.New("reply with no request in flight")
		}
		if err != nil {
			lc.s.log.Error("store loop connection closed on a reply it cannot read", "store", lc.s.redacted, "err", err)
			lc.c.Close()
			return len(p)
		}
		if n == 0 {
			break
		}
		off += n
		t := lc.trips[lc.head]
		k := &t.keys[t.sent[t.next]]
		lc.fill(t, k, r)
		t.next++
		if t.next == len(t.sent) {
			lc.trips[lc.head] = nil
			lc.head++
			if lc.head == len(lc.trips) {
				lc.trips, lc.head = lc.trips[:0], 0
			}
			lc.finish(t)
		}
	}
	return off
}

// fill sets k from its reply.
func (lc *loopConn) fill(t *trip, k *tripKey, r reply) {
	s := lc.s
	ck := unsafe.String(&t.arena[k.off], int(k.end-k.off))
	now := s.clock.Load()
	switch r.kind {
	case replyBulk:
		k.e = s.entryOf(ck, unsafe.String(unsafe.SliceData(r.data), len(r.data)), now)
	case replyNull:
		k.e = entry{kind: kindAbsent, seen: now}
	case replyError:
		if bytes.HasPrefix(r.data, []byte("WRONGTYPE")) {
			s.badValue(ck)
			k.e = entry{kind: kindInvalid, seen: now}
			return
		}
		k.err = fmt.Errorf("redis error: %s", r.data)
	default:
		k.err = fmt.Errorf("%w: unexpected reply to GET", errProtocol)
	}
}

// finish answers the Calls of a round trip whose replies all arrived,
// and caches the keys read.
func (lc *loopConn) finish(t *trip) {
	s := lc.s
	end := time.Now()
	if len(t.sent) > 0 {
		if s.observe != nil {
			s.observe(time.Duration(end.UnixNano() - t.start))
		}
		var firstErr error
		for _, i := range t.sent {
			k := &t.keys[i]
			if k.err != nil {
				firstErr = k.err
				continue
			}
			k.e.epoch = t.ep
			s.misses.Add(1)
			if s.cache != nil {
				s.cache.put(string(t.arena[k.off:k.end]), k.e, t.ep, k.inval)
			}
		}
		if firstErr != nil {
			s.failure(firstErr)
		} else {
			s.alive(end.UnixNano())
			s.success()
		}
	}
	if !t.abandoned {
		if len(t.sent) > 0 { // queued (counted in waiting) by send
			lc.waiting--
		}
		var tr lookup.Trip
		for i, c := range t.calls {
			if err := t.resolve(s, c, t.idx[i]); err != nil {
				s.answerDown(c, &lc.buf, lookup.ErrUnavailable)
			}
			c.Answered = end
			if c.Traced && len(t.sent) > 0 {
				if tr.ID == 0 {
					tr = lookup.Trip{ID: s.trips.Add(1), Start: t.start, End: end.UnixNano(), Keys: len(t.sent), Calls: len(t.calls)}
				}
				c.Trip = tr
			}
			c.Done(c)
		}
	}
	lc.putTrip(t)
}

// resolve answers c from the trip's keys ix (product, market, default
// market); it returns the read error of a key c needs.
func (t *trip) resolve(s *Store, c *lookup.Call, ix [3]int32) error {
	p, l := &t.keys[ix[0]], &t.keys[ix[1]]
	if p.err != nil {
		return p.err
	}
	if l.err != nil {
		return l.err
	}
	var d entry
	if l.e.kind == kindAbsent {
		dk := &t.keys[ix[2]]
		if dk.err != nil {
			return dk.err
		}
		d = dk.e
	}
	s.resolve(c, p.e, l.e, d)
	return nil
}

// answerDown answers every Call of t without its replies, with err (or
// stale) and marks t abandoned.
func (lc *loopConn) answerDown(t *trip, err error, now time.Time) {
	for _, c := range t.calls {
		lc.s.answerDown(c, &lc.buf, err)
		c.Answered = now
		c.Done(c)
	}
	t.abandoned = true
	lc.waiting--
}

// send writes the GETs of calls' keys that are not fresh in the cache as
// one round trip. The Calls belong to the connection from here on (a
// write that fails ends the connection, which answers them).
func (lc *loopConn) send(calls []*lookup.Call) {
	s := lc.s
	t := lc.getTrip()
	t.calls = append(t.calls, calls...)
	if s.cache != nil {
		t.ep = s.cache.epoch.Load()
	}
	live := s.isLive()
	t.reset(len(calls))
	now := time.Now()
	t.deadline = earliestDeadline(calls, now).UnixNano()
	for _, c := range calls {
		t.idx = append(t.idx, [3]int32{
			t.need(s, tagProduct, c.ProductID, live),
			t.need(s, tagMarket, c.Location, live),
			t.need(s, tagMarket, starID, live),
		})
	}
	t.start = now.UnixNano()
	if len(t.sent) == 0 {
		// Every key turned fresh since Lookup: answer now.
		lc.finish(t)
		return
	}
	out := lc.out[:0]
	for _, i := range t.sent {
		k := &t.keys[i]
		prefix := s.keys.ProductPrefix()
		if t.arena[k.off] == tagMarket {
			prefix = s.keys.MarketPrefix()
		}
		out = appendGet(out, prefix, t.arena[k.off+1:k.end])
	}
	lc.out = out
	lc.trips = append(lc.trips, t)
	lc.waiting++
	s.loopTrips.Add(1)
	if lc.armedAt == 0 || t.deadline < lc.armedAt {
		lc.arm(t.deadline, t.start)
	}
	lc.sending = true
	_ = lc.c.Write(out) // on failure the connection ends: Closed answers t
	lc.sending = false
}

// arm makes the timer run check at (Unix ns).
func (lc *loopConn) arm(at, now int64) {
	lc.armedAt = at
	lc.timer.Reset(time.Duration(max(at-now, 0)))
}

// check runs on the loop when the timer fires: round trips past their
// deadline are answered (stale or ErrTimeout) and counted as failures; a
// connection whose oldest round trip has waited LiveWithin is closed.
func (lc *loopConn) check() {
	lc.armedAt = 0
	if lc.c == nil || lc.head == len(lc.trips) {
		return
	}
	s := lc.s
	now := time.Now()
	ns := now.UnixNano()
	next := int64(0)
	abandoned := false
	for _, t := range lc.trips[lc.head:] {
		switch {
		case t.abandoned:
		case t.deadline <= ns:
			lc.answerDown(t, lookup.ErrTimeout, now)
			s.failure(lookup.ErrTimeout)
			abandoned = true
		case next == 0 || t.deadline < next:
			next = t.deadline
		}
	}
	if abandoned && lc.waiting == 0 {
		// The Calls gathered behind them go now (or to the senders,
		// should the connection be closed below first).
		defer lc.b.Flush()
	}
	oldest := lc.trips[lc.head]
	stall := oldest.start + int64(s.live)
	if ns >= stall {
		s.log.Warn("store loop connection closed: no reply", "store", s.redacted, "waited", time.Duration(ns-oldest.start).String())
		lc.c.Close()
		return
	}
	if next == 0 || stall < next {
		next = stall
	}
	lc.arm(next, ns)
}

// need returns the index of the key (tag, id) in t, adding it: known
// when it is fresh in the cache (only while live), otherwise to be sent.
func (t *trip) need(s *Store, tag byte, id []byte, live bool) int32 {
	off := int32(len(t.arena))
	t.arena = append(append(t.arena, tag), id...)
	k := t.arena[off:]
	mask := uint32(len(t.table) - 1)
	i := int32(len(t.keys))
	for h := hashKey(k) & mask; ; h = (h + 1) & mask {
		j := t.table[h]
		if j < 0 {
			t.table[h] = i
			break
		}
		if o := &t.keys[j]; bytes.Equal(t.arena[o.off:o.end], k) {
			t.arena = t.arena[:off]
			return j
		}
	}
	tk := tripKey{off: off, end: int32(len(t.arena))}
	if s.cache != nil {
		if live {
			if sl := s.cache.get(k); sl != nil && sl.epoch.Load() == t.ep {
				sl.touch(s.clock.Load())
				tk.e = entry{val: sl.val, kind: sl.kind, epoch: t.ep}
				t.keys = append(t.keys, tk)
				return i
			}
		}
		tk.inval = s.cache.snapshot(k)
	}
	t.keys = append(t.keys, tk)
	t.sent = append(t.sent, i)
	return i
}

// reset prepares t's key table for the keys of calls Calls.
func (t *trip) reset(calls int) {
	size := 16
	for size < 4*calls {
		size <<= 1
	}
	if cap(t.table) < size {
		t.table = make([]int32, size)
	}
	t.table = t.table[:size]
	for i := range t.table {
		t.table[i] = -1
	}
}

func (lc *loopConn) getTrip() *trip {
	if n := len(lc.free); n > 0 {
		t := lc.free[n-1]
		lc.free[n-1] = nil
		lc.free = lc.free[:n-1]
		return t
	}
	return &trip{}
}

// maxFreeTrips bounds the trips a loop connection keeps for reuse.
const maxFreeTrips = 64

func (lc *loopConn) putTrip(t *trip) {
	clear(t.calls)
	clear(t.keys)
	*t = trip{calls: t.calls[:0], idx: t.idx[:0], keys: t.keys[:0], arena: t.arena[:0], table: t.table, sent: t.sent[:0]}
	if len(lc.free) < maxFreeTrips {
		lc.free = append(lc.free, t)
	}
}

// loopsHosted is how many batchers keep a loop connection.
func (s *Store) loopsHosted() int {
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	return len(s.loopConns)
}

// closeLoopConns asks every loop connection's loop to close it (Close).
func (s *Store) closeLoopConns() {
	s.loopMu.Lock()
	lcs := s.loopConns
	s.loopConns = nil
	s.loopMu.Unlock()
	for _, lc := range lcs {
		lc.host.Run(func() {
			if lc.c != nil {
				lc.c.Close()
			}
		})
	}
}

// loopState is the store's part for loop connections.
type loopState struct {
	direct   *directOptions // nil: loop connections are not used
	loopAddr string         // the node's address, set before connected
	loopMu   sync.Mutex
	// loopConns are the batchers' loop connections, for Close.
	loopConns []*loopConn
	loopUp    atomic.Int64  // loop connections up
	loopTrips atomic.Uint64 // round trips sent on them
}
