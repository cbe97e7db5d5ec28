package redisstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testwait"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// TestMain checks that no goroutine outlives the tests. One of rueidis's
// own is let through: after a connection drops, rueidis schedules its
// reconnect with (*call).DelayDo, a goroutine that sleeps about a second
// and is not stopped by Client.Close; it then ends on its own. goleak's
// retries (well under a second) can catch it asleep when the last test
// killed a server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}

// open opens a store on url and closes it when the test ends.
func open(t *testing.T, o Options) *Store {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = 10_000
	}
	if o.CacheEntries < 0 {
		o.CacheEntries = 0
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// result is a Call's answer as the test sees it.
type result struct {
	base, mult string
	err        error
	stale      bool
	inline     bool
}

// ask looks up (product, location) through b with the given deadline and
// waits for the answer (bounded).
func ask(t *testing.T, b lookup.Batcher, product, location string, deadline time.Duration) result {
	t.Helper()
	done := make(chan *lookup.Call, 1)
	c := &lookup.Call{
		ProductID: []byte(product), Location: []byte(location),
		Deadline: time.Now().Add(deadline),
		Done:     func(c *lookup.Call) { done <- c },
	}
	inline := b.Lookup(c)
	if !inline {
		b.Flush()
		select {
		case <-done:
		case <-time.After(deadline + 5*time.Second):
			t.Fatalf("lookup of %s/%s not answered %s after its deadline", product, location, 5*time.Second)
		}
	}
	r := result{err: c.Err, stale: c.Stale, inline: inline}
	if c.Err == nil {
		r.base, r.mult = norm(c.Base.String()), norm(c.Mult.String())
	}
	return r
}

// eventually polls cond (bounded by timeout): for state that only shows by
// asking (a pushed invalidation, a probe).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, timeout, what, cond)
}

func seed(t *testing.T, s *redistest.Server) {
	t.Helper()
	for _, kv := range [][2]string{
		{"pricing:product:P-1", "49.99"},
		{"pricing:product:P-2", "10"},
		{"pricing:market:NY", "1.10"},
		{"pricing:market:*", "1.05"},
	} {
		s.MustDo("SET", kv[0], kv[1])
	}
}

func TestLookupHitsMissesAndDefaults(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL()})
	b := s.NewBatcher()

	tests := []struct {
		name, product, location string
		base, mult              string
		err                     error
	}{
		{"known", "P-1", "NY", "49.99", "1.10", nil},
		{"unknown location uses *", "P-2", "ZZ", "10", "1.05", nil},
		{"unknown product", "P-404", "NY", "", "", lookup.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := ask(t, b, tc.product, tc.location, time.Second)
			if first.inline {
				t.Fatal("first lookup answered inline: the cache was not cold")
			}
			second := ask(t, b, tc.product, tc.location, time.Second)
			if !second.inline {
				t.Fatal("second lookup not answered from the client-side cache")
			}
			for _, r := range []result{first, second} {
				if !errors.Is(r.err, tc.err) || r.base != normOrEmpty(tc.base) || r.mult != normOrEmpty(tc.mult) || r.stale {
					t.Fatalf("got %+v, want base %s mult %s err %v", r, tc.base, tc.mult, tc.err)
				}
			}
		})
	}
	// No default market: the multiplier is 1.
	srv.MustDo("DEL", "pricing:market:*")
	eventually(t, 2*time.Second, "default market deletion seen", func() bool {
		r := ask(t, b, "P-2", "ZZ", time.Second)
		return r.err == nil && r.mult == "1"
	})
	st := s.Stats()
	if st.Hits == 0 || st.Misses == 0 || st.Invalidations == 0 || st.Entries == 0 {
		t.Fatalf("stats not counted: %+v", st)
	}
}

func TestChangeIsServedWithoutPolling(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL()})
	b := s.NewBatcher()
	if r := ask(t, b, "P-1", "NY", time.Second); r.base != "49.99" {
		t.Fatalf("got %+v", r)
	}
	for i, v := range []string{"60.00", "61.5", "62"} {
		srv.MustDo("SET", "pricing:product:P-1", v)
		eventually(t, time.Second, "change "+v+" served", func() bool {
			return ask(t, b, "P-1", "NY", time.Second).base == norm(v)
		})
		if got := s.Stats().Invalidations; got < uint64(i+1) {
			t.Fatalf("invalidations = %d after %d changes", got, i+1)
		}
	}
	// The answer comes from the cache again once re-read (a duplicate
	// invalidation from a second tracking connection may cost one more
	// read).
	eventually(t, time.Second, "cached again", func() bool {
		r := ask(t, b, "P-1", "NY", time.Second)
		return r.inline && r.base == "62"
	})
}

func TestInvalidValuesAnswerForTheirKeyOnly(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	srv.MustDo("SET", "pricing:product:BAD", "abc")
	srv.MustDo("SET", "pricing:product:ZERO", "0")
	srv.MustDo("SET", "pricing:product:HUGE", "1000000000.01")
	srv.MustDo("SET", "pricing:market:XX", "101")
	srv.MustDo("HSET", "pricing:product:HASH", "a", "1")
	var logs syncBuffer
	s := open(t, Options{URL: srv.URL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := s.NewBatcher()
	for _, tc := range []struct{ product, location, key string }{
		{"BAD", "NY", "pricing:product:BAD"},
		{"ZERO", "NY", "pricing:product:ZERO"},
		{"HUGE", "NY", "pricing:product:HUGE"},
		{"HASH", "NY", "pricing:product:HASH"},
		{"P-1", "XX", "pricing:market:XX"},
	} {
		for i := 0; i < 2; i++ {
			r := ask(t, b, tc.product, tc.location, time.Second)
			var ie *lookup.InvalidValueError
			if !errors.As(r.err, &ie) || ie.Key != tc.key || !errors.Is(r.err, lookup.ErrInvalidValue) {
				t.Fatalf("%s/%s: got %+v, want invalid value of %s", tc.product, tc.location, r, tc.key)
			}
			if want := "store value for " + tc.key + " is invalid"; r.err.Error() != want {
				t.Fatalf("error %q, want %q", r.err, want)
			}
		}
	}
	if r := ask(t, b, "P-1", "NY", time.Second); r.err != nil || r.base != "49.99" {
		t.Fatalf("a good key next to bad ones: %+v", r)
	}
	if n := strings.Count(logs.String(), "pricing:product:BAD"); n != 1 {
		t.Fatalf("invalid key logged %d times, want once:\n%s", n, logs.String())
	}
	if s.Stats().InvalidValues < 5 {
		t.Fatalf("invalid values not counted: %+v", s.Stats())
	}
	// Fixing the value is served.
	srv.MustDo("SET", "pricing:product:BAD", "5.00")
	eventually(t, time.Second, "fixed value served", func() bool {
		return ask(t, b, "BAD", "NY", time.Second).base == norm("5.00")
	})
}

func TestConcurrentMissesAreCoalesced(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL()})
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = ask(t, s.NewBatcher(), "P-1", "NY", time.Second)
		}(i)
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil || r.base != "49.99" {
			t.Fatalf("got %+v", r)
		}
	}
	// Three keys (product, location, default market), each read once
	// whatever the interleaving: a later batch joins the read in flight
	// or finds the key fresh in the cache.
	if got := s.Stats().Misses; got != 3 {
		t.Fatalf("misses = %d, want 3 (one read per key)", got)
	}
}

func TestOneBatchManyCalls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{{"standalone", false}, {"cluster", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				url string
				set func(k, v string)
			)
			if tc.cluster {
				c := redistest.StartCluster(t, 3)
				url = c.SeedURL()
				set = func(k, v string) { c.Node(t, k).MustDo("SET", k, v) }
			} else {
				srv := redistest.Start(t, redistest.Options{})
				url = srv.URL()
				set = func(k, v string) { srv.MustDo("SET", k, v) }
			}
			const n = 50
			for i := 0; i < n; i++ {
				set("pricing:product:P-"+itoa(i), itoa(i+1)+".25")
			}
			set("pricing:market:NY", "2")
			s := open(t, Options{URL: url})
			b := s.NewBatcher()
			done := make(chan *lookup.Call, n)
			calls := make([]*lookup.Call, n)
			for i := range calls {
				calls[i] = &lookup.Call{ProductID: []byte("P-" + itoa(i)), Location: []byte("NY"),
					Deadline: time.Now().Add(2 * time.Second), Done: func(c *lookup.Call) { done <- c }}
				if b.Lookup(calls[i]) {
					t.Fatal("cold lookup answered inline")
				}
			}
			b.Flush()
			for i := 0; i < n; i++ {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatalf("only %d of %d calls answered", i, n)
				}
			}
			for i, c := range calls {
				if c.Err != nil || c.Base.String() != norm(itoa(i+1)+".25") || c.Mult.String() != "2" {
					t.Fatalf("call %d: base %s mult %s err %v", i, c.Base, c.Mult, c.Err)
				}
			}
			if got := s.Stats().Misses; got != n+2 {
				t.Fatalf("misses = %d, want %d (one read per key)", got, n+2)
			}
			// Changes on any node are pushed.
			set("pricing:product:P-7", "99")
			eventually(t, 2*time.Second, "change on a cluster node served", func() bool {
				return ask(t, b, "P-7", "NY", time.Second).base == "99"
			})
		})
	}
}

func TestTLSAndPasswordFromOptions(t *testing.T) {
	certs := redistest.NewCerts(t)
	const secret = "correct-horse-battery-staple"
	srv := redistest.Start(t, redistest.Options{TLS: certs, RequireClientCert: true, Password: secret})
	seed(t, srv)
	s := open(t, Options{URL: srv.URLNoPassword(), Password: secret,
		TLS: &TLSFiles{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}})
	if r := ask(t, s.NewBatcher(), "P-1", "NY", time.Second); r.err != nil || r.base != "49.99" {
		t.Fatalf("over TLS: %+v", r)
	}
	// Without the client certificate, or with a wrong password, Open
	// fails, and the error does not carry the password.
	for _, o := range []Options{
		{URL: srv.URLNoPassword(), Password: secret, TLS: &TLSFiles{CA: certs.CA}},
		{URL: srv.URLNoPassword(), Password: secret + "x", TLS: &TLSFiles{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}},
		{URL: "rediss://default:" + secret + "x@" + srv.Addr(), TLS: &TLSFiles{CA: certs.CA, Cert: certs.ClientCert, Key: certs.ClientKey}},
		{URL: "redis://default:" + secret + "@[::1", CacheEntries: 10},
	} {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		o.CacheEntries = 10
		st, err := Open(context.Background(), o)
		if err == nil {
			st.Close()
			t.Fatalf("Open(%s) succeeded", Redact(o.URL))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error carries the password: %v", err)
		}
	}
}

func TestHitDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL()})
	b := s.NewBatcher()
	ask(t, b, "P-1", "NY", time.Second)
	ask(t, b, "P-1", "LA", time.Second)
	c := &lookup.Call{ProductID: []byte("P-1"), Location: []byte("NY")}
	c2 := &lookup.Call{ProductID: []byte("P-1"), Location: []byte("LA")}
	allocs := testing.AllocsPerRun(1000, func() {
		if !b.Lookup(c) || !b.Lookup(c2) {
			panic("miss")
		}
	})
	if allocs != 0 {
		t.Fatalf("a hit allocates %.1f times", allocs)
	}
}

func TestCacheDisabledAlwaysReads(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL(), CacheEntries: -1})
	b := s.NewBatcher()
	for i := 0; i < 3; i++ {
		r := ask(t, b, "P-1", "NY", time.Second)
		if r.inline || r.base != "49.99" {
			t.Fatalf("got %+v", r)
		}
	}
	if got := s.Stats().Misses; got != 9 {
		t.Fatalf("misses = %d, want 9", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := newCache(nShards * 2)
	for i := 0; i < 10_000; i++ {
		c.put("p"+itoa(i), entry{kind: kindValue, val: money.New(1, 0)}, 1, 0)
	}
	if n := c.len(); n > nShards*2 {
		t.Fatalf("cache holds %d entries, bound %d", n, nShards*2)
	}
}

func TestCacheRacingInvalidationIsNotFresh(t *testing.T) {
	c := newCache(100)
	k := []byte("pP-1")
	inval := c.snapshot(k)
	c.invalidate(k) // arrives before the reply is stored
	c.put(string(k), entry{kind: kindValue, seen: 1}, c.epoch.Load(), inval)
	if sl := c.get(k); sl.epoch.Load() != 0 {
		t.Fatal("a value read before an invalidation was stored fresh")
	}
	ep := c.epoch.Load()
	inval = c.snapshot(k)
	c.flush()
	c.put(string(k), entry{kind: kindValue, seen: 1}, ep, inval)
	if sl := c.get(k); sl.epoch.Load() == c.epoch.Load() {
		t.Fatal("a value read before a flush was stored fresh")
	}
}

// norm writes a decimal string the way Decimal.String does, so that
// "1.10" and 1.1 compare equal.
func norm(s string) string {
	d, err := money.Parse(s)
	if err != nil {
		return "bad:" + s
	}
	return d.String()
}

func normOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return norm(s)
}

func itoa(i int) string {
	return string(money.New(int64(i), 0).Append(nil))
}

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPumpedBatcherCompletesInFlush: with a pump, the answers of one
// round trip come back to the batcher's owner: one pump for the batch,
// and every Call's Done runs inside the owner's next Flush, with Answered
// set; a pump that reports its owner stopped makes the sender complete
// them itself.
func TestPumpedBatcherCompletesInFlush(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL(), CacheEntries: -1})
	for _, stopped := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "stopped"}[stopped], func(t *testing.T) {
			b := s.NewBatcher()
			pumps := make(chan struct{}, 8)
			b.(lookup.Pumped).SetPump(func() bool {
				pumps <- struct{}{}
				return !stopped
			})
			const n = 20
			var inFlush bool // read in Done: on this goroutine unless stopped
			done := make(chan bool, n)
			start := time.Now()
			for i := range n {
				c := &lookup.Call{ProductID: []byte("P-" + itoa(1+i%2)), Location: []byte("NY"), Deadline: start.Add(5 * time.Second)}
				c.Done = func(c *lookup.Call) {
					if c.Err != nil || c.Answered.Before(start) {
						t.Errorf("answered %v after the start, err %v", c.Answered.Sub(start), c.Err)
					}
					done <- inFlush
				}
				if b.Lookup(c) {
					t.Fatal("a lookup without a cache answered at once")
				}
			}
			if !b.(lookup.Keeper).Kept() {
				t.Fatal("the misses are not kept for Flush")
			}
			b.Flush() // sends them: one batch
			select {
			case <-pumps:
			case <-time.After(5 * time.Second):
				t.Fatal("no pump within 5 s")
			}
			if !stopped {
				if len(done) != 0 {
					t.Fatal("a Call completed before the owner's Flush")
				}
				inFlush = true
				b.Flush()
				inFlush = false
			}
			for range n {
				select {
				case fromFlush := <-done:
					if fromFlush == stopped {
						t.Errorf("a Call completed in Flush %v, with the owner stopped %v", fromFlush, stopped)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("a Call was not completed")
				}
			}
			if len(pumps) != 0 {
				t.Errorf("%d more pumps for one batch", len(pumps))
			}
		})
	}
}
