package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testwait"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
)

// TestRedisLoopConnections runs the Redis store's loop connections on the
// server's event loops, under the race detector: every lookup is a round
// trip (no client-side cache), pipelined from several connections on two
// loops, while Redis is told to kill those connections. Every request
// answers 200 with its price (a lost connection's reads go again through
// the shared connections), the loops' connections carried round trips
// and are made again, and after Shutdown and Close no goroutine is left
// (TestMain).
func TestRedisLoopConnections(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	const products = 40
	for i := range products {
		rs.MustDo("SET", fmt.Sprintf("pricing:product:P-%d", i), fmt.Sprintf("%d.50", 10+i))
	}
	rs.MustDo("SET", "pricing:market:NY", "1.10")
	st, err := redisstore.Open(context.Background(), redisstore.Options{URL: rs.URL(), CacheEntries: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close) // after the server's Shutdown (cleanups run last first)
	ts := startServer(t, serverOpts{src: st})

	const conns, rounds, depth = 6, 30, 4
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	kill := make(chan struct{})
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc := dial(t, ts.addr)
			defer nc.Close()
			br := bufio.NewReader(nc)
			for r := range rounds {
				if c == 0 && r == rounds/2 {
					close(kill)
				}
				var req strings.Builder
				for d := range depth {
					n := (c*rounds + r*depth + d) % products
					req.WriteString(priceReq(fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY"}`, n)))
				}
				if _, err := nc.Write([]byte(req.String())); err != nil {
					errs <- err
					return
				}
				for d := range depth {
					n := (c*rounds + r*depth + d) % products
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						errs <- err
						return
					}
					var body strings.Builder
					_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
					_ = resp.Body.Close()
					want := fmt.Sprintf(`"base_price":%d.5,`, 10+n)
					if resp.StatusCode != 200 || !strings.Contains(body.String(), want) {
						errs <- fmt.Errorf("P-%d: %d %s, want %s", n, resp.StatusCode, body.String(), want)
						return
					}
				}
			}
		}()
	}
	<-kill
	killed := 0
	// The loop connections: RESP2 clients (rueidis' speak RESP3) whose
	// last command was a GET.
	for _, id := range rs.ClientIDs(" resp=2", " cmd=get ") {
		if _, err := rs.Do("CLIENT", "KILL", "ID", id); err == nil {
			killed++
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stats := st.Stats()
	t.Logf("%d loop connections killed; %d round trips on loop connections, %d up at the end", killed, stats.LoopTrips, stats.LoopConns)
	if stats.LoopTrips == 0 {
		t.Fatal("no round trip on a loop connection")
	}
	// Every loop that served clients has its connection again before
	// Shutdown (a connection still being attached when the loops stop
	// would leave gnet's registration waiting).
	testwait.For(t, 5*time.Second, "the loops' connections up again", func() bool {
		st := st.Stats()
		return st.LoopsHosted > 0 && st.LoopConns == st.LoopsHosted
	})
}
