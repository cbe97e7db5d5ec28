package main

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// loopConnIDs returns the ids of the engine's loop connections as Redis
// lists them: RESP2 clients (rueidis' connections speak RESP3) whose last
// command was a GET.
func loopConnIDs(srv *redistest.Server) []string { return srv.ClientIDs(" resp=2", " cmd=get ") }

// TestE2EStoreLoopConnections: with the client-side cache off every
// lookup is a round trip, read on the event loops' own connections to
// Redis (authenticated, in database 2). Under load, killing those
// connections costs no request (their reads go again through the shared
// connections), stopping Redis gives only right 200s and 503s with
// Retry-After within the deadline, and the connections come back; with
// --store-shared-only none is made.
func TestE2EStoreLoopConnections(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: storeSecret})
	importEmbedded(t, srv.URL()+"/2")
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(storeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := srv.URLNoPassword() + "/2"
	p := &storeProc{proc: faultEngine(t, url, "--store-password-file", pwFile, "--store-cache-entries", "0", "--stale-for", "0")}
	fc := newFaultClient(p.api)

	// The loops' connections are made once a loop serves a client.
	if o := fc.price("P-1", "NY"); o.check(1, "NY", "") != "" || o.code != 200 {
		t.Fatalf("first request: %s %s", o.check(1, "NY", ""), o.body)
	}
	waitFor(t, 5*time.Second, "a loop connection up", func() bool { return p.metric("pricing_store_loop_connections") >= 1 })
	before := p.metric("pricing_store_loop_round_trips_total")
	const n = 50
	for i := 0; i < n; i++ {
		if o := fc.price("P-"+strconv.Itoa(i), "LA"); o.check(i, "LA", "") != "" || o.code != 200 {
			t.Fatalf("P-%d: %s %s", i, o.check(i, "LA", ""), o.body)
		}
	}
	if d := p.metric("pricing_store_loop_round_trips_total") - before; d < 1 {
		t.Fatalf("%d requests made %v round trips on loop connections", n, d)
	}
	if ids := loopConnIDs(srv); len(ids) == 0 {
		t.Fatalf("Redis lists no loop connection:\n%s", srv.MustDo("CLIENT", "LIST"))
	}
	noSecret(t, "the engine's log", p.logLines()...)

	// tripsAgain waits until reads go through loop connections again.
	tripsAgain := func(t *testing.T) {
		t.Helper()
		trips := p.metric("pricing_store_loop_round_trips_total")
		waitFor(t, 5*time.Second, "round trips on loop connections again", func() bool {
			return p.metric("pricing_store_loop_round_trips_total") > trips+10
		})
	}

	t.Run("connections killed under load", func(t *testing.T) {
		var tl tally
		var seq atomic.Int64
		seq.Store(200)
		stop := make(chan struct{})
		wg := load(fc, &tl, 4, 200, &seq, stop, nil)
		killed := 0
		for round := 0; round < 3; round++ {
			waitFor(t, 5*time.Second, "loop connections listed", func() bool { return len(loopConnIDs(srv)) > 0 })
			for _, id := range loopConnIDs(srv) {
				if _, err := srv.Do("CLIENT", "KILL", "ID", id); err == nil {
					killed++
				}
			}
		}
		tripsAgain(t)
		close(stop)
		wg.Wait()
		tl.verify(t, "loop connections killed")
		t.Logf("%d loop connections killed: %s", killed, &tl)
		// A lost loop connection sends its reads again through the
		// shared connections: no client sees the loss.
		if killed == 0 || tl.live.Load() == 0 || tl.unavailable.Load() != 0 {
			t.Fatalf("killed %d connections: %s, want only live answers", killed, &tl)
		}
	})

	t.Run("Redis stopped", func(t *testing.T) {
		var tl tally
		var seq atomic.Int64
		seq.Store(200)
		stop := make(chan struct{})
		wg := load(fc, &tl, 4, 200, &seq, stop, nil)
		waitFor(t, 5*time.Second, "answers before the stop", func() bool { return tl.live.Load() > 10 })
		srv.Pause()
		paused := true
		defer func() {
			if paused {
				srv.Resume()
			}
		}()
		waitFor(t, 5*time.Second, "503s while Redis is stopped", func() bool { return tl.unavailable.Load() > 5 })
		srv.Resume()
		paused = false
		resumed := time.Now()
		live := tl.live.Load()
		waitFor(t, 5*time.Second, "live answers after SIGCONT", func() bool { return tl.live.Load() > live+20 })
		recovery := time.Since(resumed)
		waitFor(t, 5*time.Second, "a loop connection up", func() bool { return p.metric("pricing_store_loop_connections") >= 1 })
		tripsAgain(t)
		close(stop)
		wg.Wait()
		tl.verify(t, "Redis stopped")
		t.Logf("Redis stopped: %s; live again %s after SIGCONT", &tl, recovery)
	})

	t.Run("shared only", func(t *testing.T) {
		q := &storeProc{proc: faultEngine(t, url, "--store-password-file", pwFile, "--store-cache-entries", "0", "--store-shared-only")}
		qc := newFaultClient(q.api)
		for i := 0; i < 20; i++ {
			if o := qc.price("P-"+strconv.Itoa(i), "SF"); o.check(i, "SF", "") != "" || o.code != 200 {
				t.Fatalf("P-%d: %s %s", i, o.check(i, "SF", ""), o.body)
			}
		}
		if c, r := q.metric("pricing_store_loop_connections"), q.metric("pricing_store_loop_round_trips_total"); c != 0 || r != 0 {
			t.Fatalf("--store-shared-only: %v loop connections, %v round trips on them", c, r)
		}
		if m := q.metric("pricing_store_round_trip_seconds_count"); m < 20 {
			t.Fatalf("20 uncached requests made %v round trips", m)
		}
	})
}
