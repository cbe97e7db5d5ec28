package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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
	// StaleFor is how long a value read from Redis may answer, marked
	// stale, while Redis cannot be reached. 0 uses DefaultStaleFor; a
	// negative value disables stale answers.
	StaleFor time.Duration
	// CacheEntries bounds the client-side cache (entries; about 135
	// bytes each, see docs/STORE.md). 0 disables the client-side cache:
	// every lookup is a round trip, and no stale answers are possible.
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
}

// Stats is a snapshot of the store's counters, for metrics.
type Stats struct {
	Up            bool   // the last probe succeeded
	BreakerOpen   bool   // lookups are answered without asking Redis
	Hits          uint64 // Calls answered fresh from the client-side cache
	Misses        uint64 // keys read from Redis
	Invalidations uint64 // invalidation messages (keys) received
	Flushes       uint64 // whole-cache invalidations (disconnects, FLUSHALL)
	Stale         uint64 // Calls answered from last known values
	InvalidValues uint64 // reads that found an invalid value
	Entries       int    // entries in the client-side cache
}

// Store is the Redis [lookup.Source]: a bounded client-side cache kept
// current by the server's invalidations (RESP3 CLIENT TRACKING in BCAST
// mode on the key prefix), in front of pipelined reads.
//
// It is safe for concurrent use. Close it after the last Batcher is done.
type Store struct {
	client   rueidis.Client
	keys     Keys
	prefix   string // keys.Prefix()
	cache    *cache // nil when the client-side cache is disabled
	staleFor time.Duration
	log      *slog.Logger
	observe  func(time.Duration)
	workers  int
	probe    time.Duration
	failMax  int
	redacted string

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

	loggedMu sync.Mutex
	logged   map[string]struct{}
}

var _ lookup.Source = (*Store)(nil)

// Open connects to Redis (detecting a cluster), turns on invalidation
// tracking and starts the senders and the probe. It fails when Redis
// cannot be reached or refuses the credentials; errors never carry the
// password.
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
	if s.probe <= 0 {
		s.probe = DefaultProbeInterval
	}
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

	client, err := connect(ctx, copt, redacted)
	if err != nil {
		return nil, err
	}
	s.client = client
	s.up.Store(true)
	s.wg.Add(s.workers + 1)
	for i := 0; i < s.workers; i++ {
		go s.sender()
	}
	go s.prober()
	return s, nil
}

// Close stops the senders and the probe, answers the Calls still queued
// with ErrUnavailable and closes the connections. No Batcher may be used
// after Close.
func (s *Store) Close() {
	close(s.quit)
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
	s.client.Close()
}

// Client returns the underlying client (for tests); it is closed by
// Close.
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
		BreakerOpen:   s.open.Load(),
		Misses:        s.misses.Load(),
		Invalidations: s.invalidations.Load(),
		Flushes:       s.flushes.Load(),
		Stale:         s.stale.Load(),
		InvalidValues: s.invalid.Load(),
	}
	if s.cache != nil {
		st.Hits = s.cache.hits()
		st.Entries = s.cache.len()
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
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := s.client.Do(ctx, s.client.B().Ping().Build()).Error()
		cancel()
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
	d, perr := money.Parse(strings.TrimSpace(str))
	if perr == nil && k[0] == tagProduct {
		perr = lookup.CheckPrice(d)
	} else if perr == nil {
		perr = lookup.CheckMultiplier(d)
	}
	if perr != nil {
		s.badValue(k)
		return entry{kind: kindInvalid, seen: now}, nil
	}
	return entry{kind: kindValue, val: d, seen: now}, nil
}

// badValue counts an invalid value and logs it once per key.
func (s *Store) badValue(k string) {
	s.invalid.Add(1)
	s.loggedMu.Lock()
	_, seen := s.logged[k]
	if !seen && len(s.logged) < maxLoggedInvalid {
		s.logged[k] = struct{}{}
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
