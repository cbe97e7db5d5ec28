package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/metrics"
)

// storeMemory is the --store value of the in-memory store.
const storeMemory = "memory"

// storeConfig is the --store* flags: where catalog and markets live.
type storeConfig struct {
	url          string // "memory" or a redis:// / rediss:// URL (may hold a password: never log it raw)
	prefix       string
	passwordFile string
	tlsCA        string
	tlsCert      string
	tlsKey       string
	staleFor     time.Duration
	liveWithin   time.Duration
	cacheEntries int
	sharedOnly   bool
	serving      bool // the serving flags are registered (not only the connection's)
}

// register declares the store flags on fs, with their defaults.
func (s *storeConfig) register(fs *flag.FlagSet) {
	s.serving = true
	s.registerConn(fs)
	durationFlag(fs, &s.staleFor, "stale-for", redisstore.DefaultStaleFor, `while the store is unreachable, keys used within this long (read from the store or answered from the client-side cache) answer from their last known value ("source":"stale"); 0 disables`)
	durationFlag(fs, &s.liveWithin, "store-live-within", redisstore.DefaultLiveWithin, `a cached value answers "source":"live" only while the store replied (to a read or a background PING) within this long; otherwise "stale" (a partition without RST)`)
	wholeFlag(fs, &s.cacheEntries, "store-cache-entries", redisstore.DefaultCacheEntries, "bound of the client-side cache in entries (one per product or location; ~120 bytes each, see docs/STORE.md; unknown ids have a bound of their own, 1/8 of it, on top); 0 disables it: every lookup asks the store")
	boolFlag(fs, &s.sharedOnly, "store-shared-only", "read misses only through the shared connections (a pool of sender goroutines), never through the connection each event loop otherwise keeps to a standalone, non-TLS Redis (docs/STORE.md)")
}

// registerConn declares the flags that say how to reach the store.
func (s *storeConfig) registerConn(fs *flag.FlagSet) {
	fs.StringVar(&s.url, "store", storeMemory, `where catalog and markets live: "memory" (embedded data or --catalog/--markets) or a Redis URL redis://[user[:password]@]host:port[/db] (rediss:// for TLS; more seed nodes as ?addr=host:port; a cluster is detected)`)
	fs.StringVar(&s.prefix, "store-prefix", redisstore.DefaultPrefix, "prefix of the store's keys (<prefix>product:<id>, <prefix>market:<location>)")
	fs.StringVar(&s.passwordFile, "store-password-file", "", "file holding the store's password (replaces one in the URL; trailing newline ignored)")
	fs.StringVar(&s.tlsCA, "store-tls-ca-file", "", "PEM CA file trusted for rediss:// (empty: the system roots)")
	fs.StringVar(&s.tlsCert, "store-tls-cert-file", "", "PEM client certificate for rediss:// servers that ask for one (with --store-tls-key-file)")
	fs.StringVar(&s.tlsKey, "store-tls-key-file", "", "PEM key of --store-tls-cert-file")
}

// redis reports whether a Redis store is configured.
func (s *storeConfig) redis() bool { return s.url != storeMemory }

// redacted is the store for logs: "memory" or the URL without password.
func (s *storeConfig) redacted() string {
	if !s.redis() {
		return storeMemory
	}
	return redisstore.Redact(s.url)
}

// validate checks the store flags; messages never quote the URL's
// password.
func (s *storeConfig) validate() error {
	var errs []error
	if s.redis() {
		if _, err := redisstore.ParseURL(s.url); err != nil {
			errs = append(errs, fmt.Errorf("invalid --store: %w (want %q or a redis:// or rediss:// URL)", err, storeMemory))
		}
		if s.prefix == "" {
			errs = append(errs, errors.New("invalid --store-prefix: must not be empty"))
		}
		if (s.tlsCert == "") != (s.tlsKey == "") {
			errs = append(errs, errors.New("invalid --store-tls-cert-file/--store-tls-key-file: give both or neither"))
		}
		if (s.tlsCA != "" || s.tlsCert != "") && !strings.HasPrefix(s.url, "rediss://") {
			errs = append(errs, errors.New("invalid --store-tls-*: the --store URL must be rediss://"))
		}
	}
	if s.staleFor < 0 {
		errs = append(errs, fmt.Errorf("invalid --stale-for %s: must not be negative", s.staleFor))
	}
	if s.serving && s.liveWithin <= 0 {
		errs = append(errs, fmt.Errorf("invalid --store-live-within %s: must be positive", s.liveWithin))
	}
	if s.cacheEntries < 0 {
		errs = append(errs, fmt.Errorf("invalid --store-cache-entries %d: must not be negative", s.cacheEntries))
	}
	return errors.Join(errs...)
}

// options builds the store's options, reading the password file.
func (s *storeConfig) options(log *slog.Logger) (redisstore.Options, error) {
	o := redisstore.Options{
		URL:          s.url,
		Prefix:       s.prefix,
		StaleFor:     s.staleFor,
		LiveWithin:   s.liveWithin,
		CacheEntries: s.cacheEntries,
		SharedOnly:   s.sharedOnly,
		Logger:       log,
	}
	if s.staleFor == 0 {
		o.StaleFor = -1 // the flag's 0 means off; the package's 0 means default
	}
	if s.passwordFile != "" {
		pw, err := readPasswordFile("--store-password-file", s.passwordFile)
		if err != nil {
			return o, err
		}
		o.Password = pw
	}
	if s.tlsCA != "" || s.tlsCert != "" {
		o.TLS = &redisstore.TLSFiles{CA: s.tlsCA, Cert: s.tlsCert, Key: s.tlsKey}
	}
	return o, nil
}

// readPasswordFile reads the password in file (the value of flag): one
// line, its trailing newline ignored; an empty file is an error.
func readPasswordFile(flag, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", flag, err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("cannot use %s %q: it is empty", flag, file)
	}
	return pw, nil
}

// openStore connects the Redis store and registers its metrics on mset.
func (s *storeConfig) openStore(ctx context.Context, log *slog.Logger, mset *metrics.Set) (*redisstore.Store, error) {
	o, err := s.options(log)
	if err != nil {
		return nil, err
	}
	var cur atomic.Pointer[redisstore.Store]
	m := metrics.NewStore(mset.Registry, func() metrics.StoreStats {
		st := cur.Load()
		if st == nil {
			return metrics.StoreStats{}
		}
		x := st.Stats()
		return metrics.StoreStats{
			Up: x.Up, Live: x.Live, BreakerOpen: x.BreakerOpen, Hits: x.Hits, Misses: x.Misses,
			Invalidations: x.Invalidations, Flushes: x.Flushes, Stale: x.Stale,
			InvalidValues: x.InvalidValues, Entries: x.Entries, AbsentEntries: x.AbsentEntries,
			LoopConns: x.LoopConns, LoopTrips: x.LoopTrips,
		}
	})
	o.ObserveRoundTrip = m.ObserveRoundTrip
	st, err := redisstore.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	cur.Store(st)
	return st, nil
}

// dataSource opens where prices come from: the Redis store, or the
// memory store loaded from the embedded data or --catalog/--markets. It
// returns the source, attributes for the "serving" log line, and a close
// function to call after the server has stopped.
func dataSource(cfg *config, log *slog.Logger, mset *metrics.Set) (lookup.Source, []any, func(), error) {
	if cfg.store.redis() {
		st, err := cfg.store.openStore(context.Background(), log, mset)
		if err != nil {
			return nil, nil, nil, err
		}
		if ok, _ := st.Ready(); ok {
			log.Info("store connected", "store", cfg.store.redacted(), "prefix", cfg.store.prefix,
				"cache_entries", cfg.store.cacheEntries, "stale_for", cfg.store.staleFor.String(), "live_within", cfg.store.liveWithin.String())
		}
		return st, []any{"store", cfg.store.redacted()}, st.Close, nil
	}
	cat, mk, err := loadData(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	src := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{AuditRetention: cfg.admin.auditRetention})
	return src, []any{"store", storeMemory, "products", cat.Len(), "markets", mk.Len()}, func() {}, nil
}

// notReady returns the server's Deps.NotReady for src: the Redis store's
// reason while it has not answered once; nil for the memory store.
func notReady(src lookup.Source) func() string {
	st, ok := src.(*redisstore.Store)
	if !ok {
		return nil
	}
	return func() string {
		_, why := st.Ready()
		return why
	}
}
