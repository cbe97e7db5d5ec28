package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/server"
)

// TestSlowStoreDoesNotShed: a store four times slower than the queue
// target (every cold product answers after 200 ms) on loops that have
// nothing queued. Admission control sheds nothing: the time a request
// waits on the store is not a queue of the server's. The cache hits
// (answered at once) and the slow reads all get 200.
func TestSlowStoreDoesNotShed(t *testing.T) {
	const (
		slow     = 4 * server.DefaultQueueTarget
		hot      = 10 // P-0..P-9 answer at once: the cache hits
		cold     = 48 // connections keeping slow reads in flight
		hitConns = 4
		run      = 15 * 100 * time.Millisecond // fifteen admission intervals
	)
	src := delaySource(t, func(id []byte) time.Duration {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(id), "P-")); err == nil && n < hot {
			return 0
		}
		return slow
	})
	ts := startServer(t, serverOpts{src: src})

	type tally struct {
		mu       sync.Mutex
		statuses map[string]map[int]int // "hit" or "cold" -> status -> count
	}
	tl := tally{statuses: map[string]map[int]int{"hit": {}, "cold": {}}}
	stop := time.Now().Add(run)
	var wg sync.WaitGroup
	client := func(kind string, product func(i int) int) {
		defer wg.Done()
		c := dial(t, ts.addr)
		br := bufio.NewReader(c)
		for i := 0; time.Now().Before(stop); i++ {
			body := fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY"}`, product(i))
			if _, err := c.Write([]byte(priceReq(body))); err != nil {
				t.Errorf("%s: write: %v", kind, err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("%s: read: %v", kind, err)
				return
			}
			_ = resp.Body.Close()
			tl.mu.Lock()
			tl.statuses[kind][resp.StatusCode]++
			tl.mu.Unlock()
		}
	}
	for k := range cold {
		wg.Add(1)
		go client("cold", func(i int) int { return 100 + (k*97+i)%900 })
	}
	for k := range hitConns {
		wg.Add(1)
		go client("hit", func(i int) int { return (k + i) % hot })
	}
	wg.Wait()

	if n := metricValue(t, ts, rejected("queue_delay")); n != 0 {
		t.Errorf("admission control shed %v requests with nothing queued", n)
	}
	for kind, st := range tl.statuses {
		if st[200] == 0 || len(st) != 1 {
			t.Errorf("%s requests: statuses %v, want only 200", kind, st)
		}
	}
	// The slow reads were in flight throughout: each cold connection
	// made about run/slow of them.
	if got, want := tl.statuses["cold"][200], cold*int(run/slow)/2; got < want {
		t.Errorf("%d slow reads answered, want at least %d (the store kept busy)", got, want)
	}
	t.Logf("statuses: %v", tl.statuses)
}
