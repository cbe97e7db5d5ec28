package local

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load is an open-loop client: requests fall due at a constant rate and a
// fixed set of workers (each with its own keep-alive connection) send them
// in order. A request's latency counts from its due time, so a stall of the
// fleet shows as latency instead of slowing the load down. Unlike package
// loadtest, it stops on demand without abandoning the requests in flight,
// which lets a test run the load exactly as long as a roll takes.
//
// Start it with startLoad; call finish exactly once.
type load struct {
	url      string
	interval time.Duration
	start    time.Time
	stop     chan struct{}
	due      chan time.Time
	wg       sync.WaitGroup
	ok       atomic.Int64
	dropped  atomic.Int64
	samples  [][]sample // one slice per worker, merged by finish
	clients  []*http.Client
	finished bool
}

// sample is one request's outcome.
type sample struct {
	at  time.Duration // due time, from the start of the load
	lat time.Duration // from due time to the end of the reply
	err string        // "" for a checked 200 reply
}

// startLoad starts rate requests per second at url over workers
// connections.
func startLoad(t *testing.T, url string, rate float64, workers int) *load {
	t.Helper()
	l := &load{
		url:      url,
		interval: time.Duration(float64(time.Second) / rate),
		stop:     make(chan struct{}),
		due:      make(chan time.Time, 1<<16),
		samples:  make([][]sample, workers),
	}
	// Each worker opens its connection with one unmeasured request first,
	// so that the measured load does not start with a storm of connects.
	var warm sync.WaitGroup
	warmErrs := make(chan error, workers)
	for i := range workers {
		c := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
		}}
		l.clients = append(l.clients, c)
		warm.Add(1)
		l.wg.Go(func() {
			_, _, err := price(c, url, `{"product_id":"P-100","user_location":"NY","is_prime_member":false}`)
			if err != nil {
				warmErrs <- err
			}
			warm.Done()
			l.work(i, c)
		})
	}
	warm.Wait()
	l.start = time.Now()
	l.wg.Go(l.dispatch)
	t.Cleanup(func() {
		if !l.finished {
			l.finish()
		}
	})
	select {
	case err := <-warmErrs:
		t.Fatalf("load: a warm-up request failed: %v", err)
	default:
	}
	return l
}

// dispatch hands out due times until stop is closed.
func (l *load) dispatch() {
	defer close(l.due)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; ; n++ {
		due := l.start.Add(time.Duration(n) * l.interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-l.stop:
				return
			}
		} else {
			select {
			case <-l.stop:
				return
			default:
			}
		}
		select {
		case l.due <- due:
		default:
			// The workers are more than 65,536 requests behind: the
			// generator, not the fleet, would be measured from here on.
			l.dropped.Add(1)
		}
	}
}

// work sends the due requests of worker i.
func (l *load) work(i int, c *http.Client) {
	locations := []string{"NY", "LA", "MIA"}
	for n := 0; ; n++ {
		due, more := <-l.due
		if !more {
			return
		}
		product := 100 + (i*7919+n*104729)%900
		body := fmt.Sprintf(`{"product_id":"P-%d","user_location":"%s","is_prime_member":%t}`,
			product, locations[n%3], n%2 == 0)
		status, reply, err := price(c, l.url, body)
		s := sample{at: due.Sub(l.start), lat: time.Since(due)}
		switch {
		case err != nil:
			s.err = "error: " + err.Error()
		case status != http.StatusOK:
			s.err = fmt.Sprintf("status %d: %s", status, reply)
		default:
			var r struct {
				ProductID  string  `json:"product_id"`
				FinalPrice float64 `json:"final_price"`
			}
			if err := json.Unmarshal(reply, &r); err != nil || r.ProductID != fmt.Sprintf("P-%d", product) || r.FinalPrice <= 0 {
				s.err = fmt.Sprintf("bad reply to P-%d: %s", product, reply)
			} else {
				l.ok.Add(1)
			}
		}
		l.samples[i] = append(l.samples[i], s)
	}
}

// waitOK waits until n more requests than now have succeeded, failing the
// test after timeout.
func (l *load) waitOK(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	target := l.ok.Load() + n
	if !waitFor(timeout, func() bool { return l.ok.Load() >= target }) {
		t.Fatalf("load: %d successful replies within %v, want %d", l.ok.Load()-(target-n), timeout, n)
	}
}

// since is the time elapsed since the load started.
func (l *load) since() time.Duration { return time.Since(l.start) }

// finish stops the arrivals, waits for the requests in flight and returns
// every sample, ordered by due time.
func (l *load) finish() *loadResult {
	l.finished = true
	stopped := l.since()
	close(l.stop)
	l.wg.Wait()
	for _, c := range l.clients {
		c.CloseIdleConnections()
	}
	var all []sample
	for _, s := range l.samples {
		all = append(all, s...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at < all[j].at })
	return &loadResult{samples: all, dropped: l.dropped.Load(), elapsed: l.since(), stopped: stopped}
}

// loadResult is what a load saw.
type loadResult struct {
	samples []sample
	dropped int64
	elapsed time.Duration // until the last reply
	stopped time.Duration // when arrivals stopped: no request is due after it
}

// window returns the summary of the requests due in [from, to).
func (r *loadResult) window(from, to time.Duration) summary {
	var s summary
	var lats []time.Duration
	reasons := map[string]int{}
	for _, x := range r.samples {
		if x.at < from || x.at >= to {
			continue
		}
		s.requests++
		if x.err != "" {
			s.failures++
			reasons[shorten(x.err)]++
			continue
		}
		lats = append(lats, x.lat)
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(p/100*float64(len(lats))))]
	}
	s.p50, s.p95, s.p99 = pct(50), pct(95), pct(99)
	if len(lats) > 0 {
		s.max = lats[len(lats)-1]
	}
	// Requests fall due only until the load stopped: rates count the
	// time up to then, not the drain of the last replies.
	if end := min(to, r.stopped); end > from {
		s.rps = float64(s.requests) / (end - from).Seconds()
	}
	for k, v := range reasons {
		s.reasons = append(s.reasons, fmt.Sprintf("%dx %s", v, k))
	}
	sort.Strings(s.reasons)
	return s
}

// all summarises the whole run.
func (r *loadResult) all() summary {
	return r.window(0, time.Duration(1<<62))
}

// summary is the outcome of the requests of a window.
type summary struct {
	requests, failures int
	p50, p95, p99, max time.Duration
	rps                float64
	reasons            []string
}

func (s summary) String() string {
	out := fmt.Sprintf("%d requests (%.0f/s), %d failed, latency p50 %v p95 %v p99 %v max %v",
		s.requests, s.rps, s.failures, ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max))
	if len(s.reasons) > 0 {
		out += "; failures: " + strings.Join(s.reasons, "; ")
	}
	return out
}

// ms rounds d for printing.
func ms(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// shorten keeps failure reasons groupable.
func shorten(s string) string {
	if len(s) > 160 {
		return s[:160]
	}
	return s
}

// p50p99max returns the median, 99th percentile and maximum of d.
func p50p99max(d []time.Duration) [3]time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return [3]time.Duration{}
	}
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p/100*float64(len(s))))] }
	return [3]time.Duration{at(50), at(99), s[len(s)-1]}
}

// series renders the P95 latency (ms) and failures of each second.
func (r *loadResult) series() string {
	var b strings.Builder
	for from := time.Duration(0); from < r.elapsed; from += time.Second {
		w := r.window(from, from+time.Second)
		if w.requests == 0 {
			continue
		}
		fmt.Fprintf(&b, " %d", w.p95.Milliseconds())
		if w.failures > 0 {
			fmt.Fprintf(&b, "(%d failed)", w.failures)
		}
	}
	return strings.TrimSpace(b.String())
}
