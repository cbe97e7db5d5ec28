package redisstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// TestStaleByLastUse: a key answered from the client-side cache stays
// servable as stale for StaleFor after that answer, not after the read
// from Redis; a key not used within StaleFor is not.
func TestStaleByLastUse(t *testing.T) {
	const staleFor = 500 * time.Millisecond
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL(), StaleFor: staleFor, ProbeInterval: 20 * time.Millisecond})
	b := s.NewBatcher()
	for _, p := range []string{"P-1", "P-2"} {
		if r := ask(t, b, p, "NY", time.Second); r.err != nil {
			t.Fatal(r.err)
		}
	}
	// P-1 is answered from the cache for twice StaleFor (paced: the point
	// is time passing); P-2 is left alone.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(2 * staleFor); time.Now().Before(end); <-tick.C {
		if r := ask(t, b, "P-1", "NY", time.Second); !r.inline || r.err != nil || r.stale {
			t.Fatalf("P-1 from the cache: %+v", r)
		}
	}
	srv.Kill()
	eventually(t, 5*time.Second, "P-1 stale after the kill", func() bool {
		r := ask(t, b, "P-1", "NY", 100*time.Millisecond)
		if r.err != nil {
			t.Fatalf("P-1, used %s ago at most, answered %v", 50*time.Millisecond, r.err)
		}
		return r.stale && r.base == "49.99"
	})
	if r := ask(t, b, "P-2", "NY", 100*time.Millisecond); !unavailable(r.err) {
		t.Fatalf("P-2, last used over %s ago: %+v", staleFor, r)
	}
}

// TestStartWithoutRedis: Open does not fail while Redis is down; the
// store is not ready (saying why) and answers ErrUnavailable at once
// until Redis answers, then serves without a new Open.
func TestStartWithoutRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Kill() // the port is known; nothing listens
	s := open(t, Options{URL: srv.URL()})
	if ok, reason := s.Ready(); ok || !strings.Contains(reason, "has not answered yet") || !strings.Contains(reason, srv.Addr()) {
		t.Fatalf("Ready() = %v, %q", ok, reason)
	}
	b := s.NewBatcher()
	if r := ask(t, b, "P-1", "NY", time.Second); !r.inline || !errors.Is(r.err, lookup.ErrUnavailable) {
		t.Fatalf("before Redis answered: %+v", r)
	}
	if st := s.Stats(); st.Connected || st.Up || st.Live {
		t.Fatalf("stats before Redis answered: %+v", st)
	}
	start := time.Now()
	srv.Restart()
	seed(t, srv)
	eventually(t, 5*time.Second, "ready once Redis answers", func() bool { ok, _ := s.Ready(); return ok })
	t.Logf("ready %s after Redis started", time.Since(start))
	if r := ask(t, b, "P-1", "NY", time.Second); r.err != nil || r.stale || r.base != "49.99" {
		t.Fatalf("after Redis answered: %+v", r)
	}
	if st := s.Stats(); !st.Connected || !st.Up || !st.Live {
		t.Fatalf("stats after Redis answered: %+v", st)
	}
}

// TestOpenRefusedIsAnError: a server that refuses us (wrong password) is
// an error at Open, not a background retry.
func TestOpenRefusedIsAnError(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: "right"})
	_, err := Open(context.Background(), Options{URL: srv.URLNoPassword(), Password: "wrong", CacheEntries: 10})
	if err == nil || !refused(err, false) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("Open with a wrong password: %v", err)
	}
}

// TestLiveOnlyWhileConnectionKnownAlive: behind a black hole (no RST, no
// reply), cached values turn stale within LiveWithin and live again once
// replies flow.
func TestLiveOnlyWhileConnectionKnownAlive(t *testing.T) {
	const liveWithin = 300 * time.Millisecond
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	px := redistest.StartProxy(t, srv.Addr())
	s := open(t, Options{URL: px.URL(), LiveWithin: liveWithin, StaleFor: time.Minute})
	b := s.NewBatcher()
	if r := ask(t, b, "P-1", "NY", time.Second); r.err != nil || r.stale {
		t.Fatalf("before: %+v", r)
	}
	hole := redistest.BlackHole()
	px.Add(hole)
	start := time.Now()
	eventually(t, 3*time.Second, "cached value answered stale", func() bool {
		r := ask(t, b, "P-1", "NY", 100*time.Millisecond)
		if r.err != nil {
			t.Fatalf("cached key behind the black hole: %v", r.err)
		}
		return r.inline && r.stale
	})
	if took := time.Since(start); took > liveWithin+500*time.Millisecond {
		t.Errorf("stale after %s, LiveWithin %s", took, liveWithin)
	}
	if s.Stats().Live {
		t.Error("Stats().Live behind a black hole")
	}
	// Held past rueidis' own detection (a PING unanswered for its write
	// timeout after a second of silence): the connection is dropped and
	// new ones cannot get through either.
	waitDuration(4 * time.Second)
	px.Remove(hole)
	start = time.Now()
	eventually(t, 5*time.Second, "live again", func() bool {
		r := ask(t, b, "P-1", "NY", 200*time.Millisecond)
		return r.err == nil && !r.stale && r.base == "49.99"
	})
	t.Logf("live %s after the black hole was removed", time.Since(start))
}

// waitDuration lets time pass for a fault that must last d (no state to
// wait on: the duration is the point).
func waitDuration(d time.Duration) { time.Sleep(d) }

// TestNegativesDoNotEvictValues: absent keys are bounded apart: however
// many are stored, every value stays.
func TestNegativesDoNotEvictValues(t *testing.T) {
	c := newCache(nShards * 16)
	var hot []string
	for i := 0; len(hot) < 1000; i++ {
		k := "pP-" + strconv.Itoa(i)
		if len(c.shard([]byte(k)).m) >= c.perShard {
			continue // a full shard would evict one of our own
		}
		c.put(k, entry{kind: kindValue, val: money.New(int64(i), 0)}, 1, 0)
		hot = append(hot, k)
	}
	for i := 0; i < 200_000; i++ {
		c.put("pX-"+strconv.Itoa(i), entry{kind: kindAbsent}, 1, 0)
	}
	for _, k := range hot {
		if sl := c.get([]byte(k)); sl == nil || sl.kind != kindValue {
			t.Fatalf("%s evicted by absent keys", k)
		}
	}
	values, absent := c.counts()
	if values != len(hot) || absent > nShards*16/negativeShare {
		t.Fatalf("%d values, %d absent keys (bound %d)", values, absent, nShards*16/negativeShare)
	}
	// A key that appears moves from the absent map to the values.
	c.put("pX-1", entry{kind: kindValue, val: money.New(1, 0)}, 1, 0)
	if sl := c.get([]byte("pX-1")); sl == nil || sl.kind != kindValue {
		t.Fatal("a key set after it was absent is not a value")
	}
	if v, _ := c.counts(); v != len(hot)+1 {
		t.Fatalf("%d values, want %d", v, len(hot)+1)
	}
}

// TestHotSetSurvivesUnknownFlood: a flood of random unknown product ids,
// as fast as the store takes them, leaves a hot set of 1,000 keys in the
// client-side cache: >= 99 % of its lookups are hits.
func TestHotSetSurvivesUnknownFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a redis-server for a second")
	}
	ratio, flood := hotSetUnderFlood(t, time.Second)
	t.Logf("hot-set hits %.3f %% with %.0f unknown ids/s", ratio*100, flood)
	if ratio < 0.99 {
		t.Fatalf("hot-set hits %.3f %%, want >= 99 %%", ratio*100)
	}
}

// BenchmarkHotSetUnderUnknownFlood reports the hot set's hit ratio while
// random unknown ids flood the store (docs/BENCHMARKS.md).
func BenchmarkHotSetUnderUnknownFlood(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ratio, flood := hotSetUnderFlood(b, 3*time.Second)
		b.ReportMetric(ratio*100, "hot-hit-%")
		b.ReportMetric(flood, "unknown-ids/s")
	}
}

// hotSetUnderFlood warms a hot set of 1,000 products (one location) in a
// store whose cache holds 4,096 entries, then for d floods it with
// lookups of random unknown ids from four goroutines (64 per batch, as
// fast as they are answered) while a fifth looks up the hot set, one
// hot lookup per unknown id; it returns the hot set's hit ratio and the
// flood's rate.
func hotSetUnderFlood(t testing.TB, d time.Duration) (ratio, perSecond float64) {
	const hot = 1000
	srv := redistest.Start(t, redistest.Options{})
	c, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < hot; i++ {
		if err := c.Send("SET", "pricing:product:H-"+strconv.Itoa(i), "9.99"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < hot; i++ {
		if _, err := c.Read(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	srv.MustDo("SET", "pricing:market:NY", "1.10")
	s, err := Open(context.Background(), Options{URL: srv.URL(), CacheEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wait := func(b lookup.Batcher, calls []*lookup.Call, done chan *lookup.Call) {
		n := 0
		for _, c := range calls {
			if !b.Lookup(c) {
				n++
			}
		}
		b.Flush()
		for ; n > 0; n-- {
			<-done
		}
	}
	call := func(id string, done chan *lookup.Call) *lookup.Call {
		return &lookup.Call{ProductID: []byte(id), Location: []byte("NY"), Done: func(c *lookup.Call) { done <- c }}
	}
	hb := s.NewBatcher()
	hdone := make(chan *lookup.Call, hot)
	hotCalls := make([]*lookup.Call, hot)
	for i := range hotCalls {
		hotCalls[i] = call("H-"+strconv.Itoa(i), hdone)
		hotCalls[i].Deadline = time.Now().Add(time.Hour)
	}
	wait(hb, hotCalls, hdone) // warm

	progress := make(chan struct{}, 1) // a flood batch was answered
	var stop atomic.Bool
	var flooded atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			b := s.NewBatcher()
			done := make(chan *lookup.Call, 64)
			calls := make([]*lookup.Call, 64)
			for !stop.Load() {
				for i := range calls {
					calls[i] = call("X-"+strconv.FormatUint(r.Uint64(), 36), done)
					calls[i].Deadline = time.Now().Add(time.Second)
				}
				wait(b, calls, done)
				flooded.Add(int64(len(calls)))
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}(uint64(g))
	}
	var hits, total int
	start := time.Now()
	for time.Since(start) < d {
		// As many unknown ids as hot lookups: the flood is half the
		// traffic, whatever the speed of either side.
		for flooded.Load() < int64(total) {
			<-progress
		}
		for _, c := range hotCalls {
			c.Deadline = time.Now().Add(time.Second)
			total++
			if hb.Lookup(c) {
				hits++
				continue
			}
			hb.Flush()
			<-hdone
		}
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if st := s.Stats(); st.AbsentEntries == 0 || st.AbsentEntries > 4096/negativeShare {
		t.Fatalf("absent entries %d: the flood did not reach the cache, or overflowed its bound", st.AbsentEntries)
	}
	return float64(hits) / float64(total), float64(flooded.Load()) / elapsed
}
