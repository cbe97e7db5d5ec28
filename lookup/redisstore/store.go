package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// Defaults of [Options].
const (
	DefaultPrefix       = "pricing:"
	DefaultStaleFor     = 5 * time.Minute
	DefaultCacheEntries = 1_000_000
	DefaultWorkers      = 32
	// DefaultMaxWait bounds a Call that has no Deadline.
	DefaultMaxWait = time.Second
	// DefaultProbeInterval is how often the store is pinged: the up gauge,
	// and the probe that closes an open breaker.
	DefaultProbeInterval = 250 * time.Millisecond
	// DefaultBreakerFailures consecutive failed round trips open the
	// breaker.
	DefaultBreakerFailures = 3
	// DefaultLiveWithin is how recent the last reply from Redis must be
	// for a cached value to answer as live.
	DefaultLiveWithin = time.Second
)

// clockTick is the resolution of the store's coarse clock: how often a
// hit records its use, and how late liveness may be seen lost.
const clockTick = 50 * time.Millisecond

// Background connection attempts while Redis has never answered: the
// wait doubles from connectBackoffMin up to connectBackoffMax, with
// jitter.
const (
	connectBackoffMin = 100 * time.Millisecond
	connectBackoffMax = time.Second
)

// queueLen bounds the batches waiting for a sender; past it a batch is
// answered at once (stale or unavailable) instead of piling up.
const queueLen = 1024

// maxLoggedInvalid bounds the set of keys whose invalid value was logged.
const maxLoggedInvalid = 10_000

// Options configure a [Store]. Only URL is required.
type Options struct {
	// URL is redis://[user[:password]@]host:port[/db] or rediss:// for
	// TLS; more seed nodes as repeated ?addr=host:port. A cluster is
	// detected.
	URL string
	// Password, when set, replaces the URL's (from --store-password-file).
	Password string
	// TLS, when set, is used for rediss:// (CA, client certificate).
	TLS *TLSFiles
	// Prefix of every key; DefaultPrefix when empty.
	Prefix string
	// StaleFor is how long after its last use (a read from Redis or an
	// answer from the client-side cache) a value may answer, marked
	// stale, while Redis cannot be reached. 0 uses DefaultStaleFor; a
	// negative value disables stale answers.
	StaleFor time.Duration
	// LiveWithin: a cached value answers as live only while Redis has
	// replied (to a read or to the background PING) within this long;
	// otherwise the connection that would bring its invalidation is not
	// known to be alive and the value answers as stale. 0 uses
	// DefaultLiveWithin.
	LiveWithin time.Duration
	// CacheEntries bounds the client-side cache's values (entries; the
	// bytes per entry are in docs/STORE.md); absent keys have a bound of
	// their own, CacheEntries/8, on top. 0 disables the client-side
	// cache: every lookup is a round trip, and no stale answers are
	// possible.
	CacheEntries int
	// Workers is the number of sender goroutines; DefaultWorkers when 0.
	Workers int
	// ProbeInterval, BreakerFailures: see the defaults.
	ProbeInterval   time.Duration
	BreakerFailures int
	// Logger receives state changes and invalid values; slog.Default()
	// when nil. The password never reaches it.
	Logger *slog.Logger
	// ObserveRoundTrip, when set, receives the duration of each round
	// trip to Redis (one pipelined batch).
	ObserveRoundTrip func(time.Duration)
	// SharedOnly sends every read through the shared connections (the
	// senders), never through a connection of the caller's event loop
	// (see lookup.Hosted); for comparison.
	SharedOnly bool
}

// Stats is a snapshot of the store's counters, for metrics.
type Stats struct {
	Up            bool   // the last probe succeeded
	Connected     bool   // Redis has answered once (the engine can serve)
	Live          bool   // Redis replied within LiveWithin: cached values answer live
	BreakerOpen   bool   // lookups are answered without asking Redis
	Hits          uint64 // Calls answered fresh from the client-side cache
	Misses        uint64 // keys read from Redis
	Invalidations uint64 // invalidation messages (keys) received
	Flushes       uint64 // whole-cache invalidations (disconnects, FLUSHALL)
	Stale         uint64 // Calls answered from last known values
	InvalidValues uint64 // reads that found an invalid value
	Entries       int    // entries in the client-side cache (values and absent keys)
	AbsentEntries int    // of which absent keys (bounded apart)
	LoopConns     int    // connections up on the callers' event loops (lookup.Hosted)
	LoopsHosted   int    // event loops that keep one (up or being made)
	LoopTrips     uint64 // round trips made on them
}

// Store is the Redis [lookup.Source]: a bounded client-side cache kept
// current by the server's invalidations (RESP3 CLIENT TRACKING in BCAST
// mode on the key prefix), in front of pipelined reads.
//
// It is safe for concurrent use. Close it after the last Batcher is done.
type Store struct {
	// client is nil until Redis has answered once (connected); it is set
	// once, before connected is.
	client    rueidis.Client
	connected atomic.Bool
	keys      Keys
	prefix    string // keys.Prefix()
	cache     *cache // nil when the client-side cache is disabled
	staleFor  time.Duration
	log       *slog.Logger
	observe   func(time.Duration)
	workers   int
	probe     time.Duration
	failMax   int
	redacted  string
	live      time.Duration

	// clock is a coarse time (Unix ns) advanced every clockTick: hits
	// compare against it instead of reading the time.
	clock atomic.Int64
	// liveUntil is the last reply from Redis plus LiveWithin (Unix ns).
	liveUntil atomic.Int64

	reasonMu sync.Mutex
	reason   string // why the store is not connected yet

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	work    chan *batch
	batches sync.Pool
	quit    chan struct{}
	wg      sync.WaitGroup

	flightMu sync.Mutex
	flights  map[string]*flight

	up       atomic.Bool
	open     atomic.Bool
	failMu   sync.Mutex
	failures int

	misses, invalidations, flushes, stale, invalid atomic.Uint64
	// trips numbers the round trips that answered a traced Call
	// (lookup.Trip.ID).
	trips atomic.Uint64

	loggedMu sync.Mutex
	logged   map[string]struct{}

	loopState
}

var _ lookup.Source = (*Store)(nil)

// Open connects to Redis (detecting a cluster), turns on invalidation
// tracking and starts the senders and the probe. It fails when the
// options are invalid or Redis refuses the connection (credentials, TLS
// verification); errors never carry the password. When Redis cannot be
// reached, Open returns a Store that is not connected: it answers every
// lookup with [lookup.ErrUnavailable] and connects in the background,
// with backoff, until Redis answers; [Store.Ready] says why meanwhile.
func Open(ctx context.Context, o Options) (*Store, error) {
	copt, redacted, err := clientOption(o)
	if err != nil {
		return nil, err
	}
	s := &Store{
		keys:     NewKeys(o.Prefix),
		staleFor: o.StaleFor,
		log:      o.Logger,
		observe:  o.ObserveRoundTrip,
		workers:  o.Workers,
		probe:    o.ProbeInterval,
		failMax:  o.BreakerFailures,
		redacted: redacted,
		live:     o.LiveWithin,
		work:     make(chan *batch, queueLen),
		quit:     make(chan struct{}),
		flights:  make(map[string]*flight),
		logged:   make(map[string]struct{}),
	}
	s.prefix = s.keys.Prefix()
	if s.staleFor == 0 {
		s.staleFor = DefaultStaleFor
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.workers <= 0 {
		s.workers = DefaultWorkers
	}
	if s.live <= 0 {
		s.live = DefaultLiveWithin
	}
	if s.probe <= 0 {
		s.probe = DefaultProbeInterval
	}
	// Liveness needs a reply within LiveWithin: ping often enough that one
	// late PING does not make a healthy connection look lost.
	s.probe = min(s.probe, s.live/4)
	if s.failMax <= 0 {
		s.failMax = DefaultBreakerFailures
	}
	if o.CacheEntries < 0 {
		return nil, fmt.Errorf("cannot open store: cache entries %d must not be negative", o.CacheEntries)
	}
	if o.CacheEntries > 0 {
		s.cache = newCache(o.CacheEntries)
		copt.ClientTrackingOptions = []string{"PREFIX", s.prefix, "BCAST"}
		copt.OnInvalidations = s.onInvalidations
		// rueidis's own cache is not used (no DoCache): keep it small.
		copt.CacheSizeEachConn = 1 << 16
	} else {
		copt.DisableCache = true
	}
	s.batches.New = func() any { return newBatch() }
	if !o.SharedOnly && copt.TLSConfig == nil && copt.Sentinel.MasterSet == "" && len(copt.InitAddress) == 1 {
		s.direct = &directOptions{user: copt.Username, password: copt.Password, db: copt.SelectDB}
	}

	client, err := connect(ctx, copt, redacted)
	if err != nil && refused(err, copt.TLSConfig != nil) {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.clock.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go s.ticker()
	if err != nil {
		s.setReason(err)
		s.log.Warn("store unreachable: answering 503 until it answers, connecting in the background", "store", redacted, "err", err)
		s.wg.Add(1)
		go s.connectLoop(copt)
		return s, nil
	}
	s.begin(client)
	return s, nil
}

// begin starts serving from client: the senders and the probe. It runs
// once, from Open or from connectLoop (which holds a wg count, so the
// Add is safe against Close's Wait).
func (s *Store) begin(client rueidis.Client) {
	s.client = client
	if nodes := client.Nodes(); s.direct != nil && client.Mode() == rueidis.ClientModeStandalone && len(nodes) == 1 {
		for addr := range nodes {
			s.loopAddr = addr
		}
	}
	s.alive(time.Now().UnixNano())
	s.up.Store(true)
	s.wg.Add(s.workers + 1)
	for i := 0; i < s.workers; i++ {
		go s.sender()
	}
	go s.prober()
	s.connected.Store(true)
}

// connectLoop tries to connect until Redis answers or Close, waiting
// between attempts (exponential backoff with jitter).
func (s *Store) connectLoop(copt rueidis.ClientOption) {
	defer s.wg.Done()
	s.retry(connectBackoffMin, func(attempt int) (done, reset bool) {
		client, err := connect(s.ctx, copt, s.redacted)
		if err == nil {
			select {
			case <-s.quit:
				client.Close()
				return true, false
			default:
			}
			s.begin(client)
			s.log.Info("store connected", "store", s.redacted, "attempts", attempt)
			return true, false
		}
		s.setReason(err)
		if attempt&(attempt-1) == 0 { // 1, 2, 4, 8...: the log does not flood
			s.log.Warn("store still unreachable, retrying", "store", s.redacted, "attempts", attempt, "err", err)
		}
		return false, false
	})
}

// retry calls try until it reports done or Close: first after first,
// then after waits doubling from connectBackoffMin up to
// connectBackoffMax, with jitter. try gets the attempt's number (from
// 1); reset starts the numbering and the waits over.
func (s *Store) retry(first time.Duration, try func(attempt int) (done, reset bool)) {
	wait := connectBackoffMin
	timer := time.NewTimer(first)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-s.quit:
			return
		case <-timer.C:
		}
		done, reset := try(attempt)
		if done {
			return
		}
		if reset {
			wait, attempt = connectBackoffMin, 0
		}
		wait = min(wait*2, connectBackoffMax)
		timer.Reset(wait/2 + rand.N(wait/2))
	}
}

// setReason records why the store is not connected: the cause under
// connect's "cannot connect to store <url>" (Ready names the store).
func (s *Store) setReason(err error) {
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	s.reasonMu.Lock()
	s.reason = err.Error()
	s.reasonMu.Unlock()
}

// Ready reports whether the store can serve: Redis has answered once.
// Until then reason says why not (the last connection error; never the
// password). Once connected the store stays ready: a later outage is
// answered from last known values or with 503 per key.
func (s *Store) Ready() (ok bool, reason string) {
	if s.connected.Load() {
		return true, ""
	}
	s.reasonMu.Lock()
	defer s.reasonMu.Unlock()
	return false, "store " + s.redacted + " has not answered yet: " + s.reason
}

// ticker advances the coarse clock until Close.
func (s *Store) ticker() {
	defer s.wg.Done()
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.clock.Store(now.UnixNano())
		}
	}
}

// alive records a reply from Redis at at (Unix ns): cached values answer
// live until at + LiveWithin.
func (s *Store) alive(at int64) {
	until := at + int64(s.live)
	for {
		cur := s.liveUntil.Load()
		if until <= cur || s.liveUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// isLive reports whether Redis replied within LiveWithin (by the coarse
// clock): only then does a fresh cached value answer as live.
func (s *Store) isLive() bool { return s.clock.Load() <= s.liveUntil.Load() }

// refused reports whether err means Redis (or its TLS endpoint) refused
// us, as opposed to not being reachable: a wrong password, a missing
// permission, a certificate that does not verify (withTLS: the
// connection uses TLS). Those are not retried at start.
func refused(err error, withTLS bool) bool {
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOAUTH") ||
			strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "AUTH")
	}
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	// The server's alert (e.g. a client certificate it requires) arrives
	// as an unexported type.
	if strings.Contains(err.Error(), "remote error: tls:") {
		return true
	}
	// With TLS 1.3 a server that rejects our certificate may just reset
	// the connection after the handshake: over TLS, a reset or close of
	// an established connection before any reply is a refusal (an
	// unreachable server fails in the dial).
	var op *net.OpError
	if withTLS && (!errors.As(err, &op) || op.Op != "dial") {
		return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
	}
	return false
}

// Close stops the senders and the probe, answers the Calls still queued
// with ErrUnavailable and closes the connections. No Batcher may be used
// after Close.
func (s *Store) Close() {
	close(s.quit)
	s.cancel()
	s.closeLoopConns()
	s.wg.Wait()
	for {
		select {
		case b := <-s.work:
			s.reject(b, lookup.ErrUnavailable)
			continue
		default:
		}
		break
	}
	if s.connected.Load() {
		s.client.Close()
	}
}

// Client returns the underlying client (for tests), nil until the store
// is connected (see Ready); it is closed by Close.
func (s *Store) Client() rueidis.Client { return s.client }

// Prefix is the key prefix in use.
func (s *Store) Prefix() string { return s.prefix }

// Keys is the key schema in use.
func (s *Store) Keys() Keys { return s.keys }

// Instant implements [lookup.Source]: false, a miss waits for Redis.
func (s *Store) Instant() bool { return false }

// Up reports whether the last probe of Redis succeeded.
func (s *Store) Up() bool { return s.up.Load() }

// Stats returns the counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Up:            s.up.Load(),
		Connected:     s.connected.Load(),
		Live:          s.connected.Load() && s.isLive(),
		BreakerOpen:   s.open.Load(),
		Misses:        s.misses.Load(),
		Invalidations: s.invalidations.Load(),
		Flushes:       s.flushes.Load(),
		Stale:         s.stale.Load(),
		InvalidValues: s.invalid.Load(),
		LoopConns:     int(s.loopUp.Load()),
		LoopsHosted:   s.loopsHosted(),
		LoopTrips:     s.loopTrips.Load(),
	}
	if s.cache != nil {
		st.Hits = s.cache.hits()
		v, a := s.cache.counts()
		st.Entries, st.AbsentEntries = v+a, a
	}
	return st
}

// onInvalidations is rueidis's hook, called on its reader goroutine: nil
// means the tracking state is lost (disconnect, FLUSHALL).
func (s *Store) onInvalidations(msgs []rueidis.RedisMessage) {
	if msgs == nil {
		s.flushes.Add(1)
		s.cache.flush()
		return
	}
	s.alive(time.Now().UnixNano()) // a push: the connection is alive
	var buf [1 + lookup.MaxKeyLen + 64]byte
	for i := range msgs {
		key, err := msgs[i].ToString()
		if err != nil {
			continue
		}
		s.invalidations.Add(1)
		if k, ok := s.compactKey(buf[:0], key); ok {
			s.cache.invalidate(k)
		}
	}
}

// compactKey turns a full Redis key into the cache's compact key.
func (s *Store) compactKey(dst []byte, key string) ([]byte, bool) {
	if id, ok := s.keys.ProductID(key); ok {
		return append(append(dst, tagProduct), id...), true
	}
	if loc, ok := s.keys.Location(key); ok {
		return append(append(dst, tagMarket), loc...), true
	}
	return nil, false
}

// fullKey turns a compact key into the Redis key.
func (s *Store) fullKey(k string) string {
	if k[0] == tagProduct {
		return s.keys.Product(k[1:])
	}
	return s.keys.Market(k[1:])
}

// failure counts a failed round trip; enough in a row open the breaker.
func (s *Store) failure(err error) {
	s.failMu.Lock()
	s.failures++
	opened := s.failures >= s.failMax && !s.open.Load()
	if opened {
		s.open.Store(true)
	}
	s.failMu.Unlock()
	if opened {
		s.log.Warn("store unreachable: breaker open, answering from last known values", "store", s.redacted, "err", err)
	}
}

// success resets the failure count.
func (s *Store) success() {
	s.failMu.Lock()
	s.failures = 0
	s.failMu.Unlock()
}

// prober pings Redis every probe interval: the up gauge, and the probe
// that closes the breaker (half-open: one more failure opens it again).
func (s *Store) prober() {
	defer s.wg.Done()
	t := time.NewTicker(s.probe)
	defer t.Stop()
	timeout := min(max(s.probe, 100*time.Millisecond), time.Second)
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		err := s.ping(timeout)
		s.up.Store(err == nil)
		if err != nil {
			s.failure(err)
			continue
		}
		if s.open.Load() {
			s.failMu.Lock()
			s.failures = s.failMax - 1
			s.open.Store(false)
			s.failMu.Unlock()
			s.log.Info("store reachable again: breaker closed", "store", s.redacted)
		}
	}
}

// ping sends a PING to every node and reports the first failure; when
// every node answers, the store is alive (see LiveWithin).
func (s *Store) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	for addr, c := range s.client.Nodes() {
		if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
			return fmt.Errorf("cannot ping %s: %w", addr, err)
		}
	}
	s.alive(time.Now().UnixNano())
	return nil
}

// parse turns one GET reply into a cache entry, or an error when Redis
// could not answer.
func (s *Store) parse(k string, r rueidis.RedisResult, now int64) (entry, error) {
	str, err := r.ToString()
	switch {
	case err == nil:
	case rueidis.IsRedisNil(err):
		return entry{kind: kindAbsent, seen: now}, nil
	default:
		if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "WRONGTYPE") {
			s.badValue(k)
			return entry{kind: kindInvalid, seen: now}, nil
		}
		return entry{}, err
	}
	return s.entryOf(k, str, now), nil
}

// entryOf turns the stored string v of the compact key k into a cache
// entry: a value, or invalid (counted and logged) when v is not a decimal
// in range. k and v may be views of reused buffers: neither is kept.
func (s *Store) entryOf(k, v string, now int64) entry {
	d, perr := money.Parse(strings.TrimSpace(v))
	if perr == nil && k[0] == tagProduct {
		perr = lookup.CheckPrice(d)
	} else if perr == nil {
		perr = lookup.CheckMultiplier(d)
	}
	if perr != nil {
		s.badValue(k)
		return entry{kind: kindInvalid, seen: now}
	}
	return entry{kind: kindValue, val: d, seen: now}
}

// badValue counts an invalid value and logs it once per key; k may be a
// view of a reused buffer.
func (s *Store) badValue(k string) {
	s.invalid.Add(1)
	s.loggedMu.Lock()
	_, seen := s.logged[k]
	if !seen && len(s.logged) < maxLoggedInvalid {
		s.logged[strings.Clone(k)] = struct{}{}
	}
	s.loggedMu.Unlock()
	if !seen {
		s.log.Error("store value is invalid (answering 502 for it until fixed)", "key", s.fullKey(k))
	}
}

// errTimeoutOr picks the error of a Call whose keys could not be read.
func errTimeoutOr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return lookup.ErrTimeout
	}
	return lookup.ErrUnavailable
}
