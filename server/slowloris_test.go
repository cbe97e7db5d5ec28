package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowloris holds n connections that trickle header bytes, one every
// interval, and counts how many the server closed (with a 408, then EOF).
type slowloris struct {
	wg     sync.WaitGroup
	closed atomic.Int64 // closed by the server (after a 408, or silently)
	silent atomic.Int64 // of which closed before any byte was seen
	other  atomic.Int64 // ended any other way (dial error, no 408, ...)

	mu      sync.Mutex
	reasons map[string]int // why connections ended otherwise
}

func (s *slowloris) fail(why string) {
	// Keep the cause, not the addresses: "read: connection reset by peer".
	if i := strings.LastIndex(why, ": "); i >= 0 && strings.Contains(why[:i], ":") {
		why = why[:strings.Index(why, ":")] + why[i:]
	}
	s.other.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reasons[why]++
}

func (s *slowloris) why() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.reasons)
}

// startSlowloris opens n trickling connections. Each goroutine is bounded:
// it gives up after maxDur.
func startSlowloris(addr string, n int, interval, maxDur time.Duration) *slowloris {
	s := &slowloris{reasons: make(map[string]int)}
	for i := range n {
		if i%200 == 199 {
			// Ramp the dials (10,000/s) so that the kernel's accept
			// queue (somaxconn) does not overflow: that would test
			// the kernel, not the server.
			time.Sleep(20 * time.Millisecond)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				s.fail("dial: " + err.Error())
				return
			}
			defer c.Close()
			end := time.Now().Add(maxDur)
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
				s.fail("write head: " + err.Error())
				return
			}
			br := bufio.NewReader(c)
			for time.Now().Before(end) {
				_ = c.SetReadDeadline(time.Now().Add(interval))
				_, err := br.Peek(1)
				if err == nil {
					// The server spoke: it must be a 408, then EOF.
					_ = c.SetReadDeadline(end)
					r, err := http.ReadResponse(br, nil)
					if err != nil || r.StatusCode != 408 {
						s.fail(fmt.Sprintf("reply not 408: %v", err))
						return
					}
					if _, err := io.Copy(io.Discard, br); err == nil {
						s.closed.Add(1)
						return
					}
					s.fail("no EOF after 408: " + err.Error())
					return
				}
				if errors.Is(err, io.EOF) {
					// Closed without a reply: the server never saw
					// the first bytes within the header timeout
					// (SYN backlog retransmissions under the flood).
					s.closed.Add(1)
					s.silent.Add(1)
					return
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					s.fail("read: " + err.Error())
					return
				}
				if _, err := c.Write([]byte{'a'}); err != nil {
					s.fail("write: " + err.Error())
					return
				}
			}
			s.fail("gave up")
		}()
	}
	return s
}

// sampleLatency sends sequential keep-alive requests for d and returns the
// sorted latencies.
func sampleLatency(tb testing.TB, addr string, d time.Duration) []time.Duration {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte(priceReq(`{"product_id":"P-123","user_location":"NY"}`))
	var lat []time.Duration
	end := time.Now().Add(d)
	for time.Now().Before(end) && len(lat) < 1_000_000 {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		t0 := time.Now()
		if _, err := c.Write(req); err != nil {
			tb.Fatal(err)
		}
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		if r.StatusCode != 200 {
			tb.Fatalf("status %d", r.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat
}

func p95(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[len(lat)*95/100]
}

// TestSlowloris: trickling connections are all closed by the header timeout
// with a 408, while normal requests keep being answered.
func TestSlowloris(t *testing.T) {
	cfg := shortTimeouts()
	cfg.HeaderTimeout = 300 * time.Millisecond
	ts := startServer(t, serverOpts{cfg: cfg})
	const n = 200
	sl := startSlowloris(ts.addr, n, 50*time.Millisecond, 10*time.Second)
	lat := sampleLatency(t, ts.addr, 500*time.Millisecond)
	sl.wg.Wait()
	if c, o := sl.closed.Load(), sl.other.Load(); c != n {
		t.Fatalf("%d of %d trickling connections closed with 408 by the header timeout (%d otherwise: %s)", c, n, o, sl.why())
	}
	t.Logf("normal traffic during the attack: %d requests, p95 %v", len(lat), p95(lat))
}

// BenchmarkSlowloris measures normal traffic's P95 without and with 5,000
// trickling connections (PRICING_SLOWLORIS_CONNS overrides), and checks
// that every trickling connection is closed by the header timeout. Run it
// once: go test -run '^$' -bench Slowloris -benchtime 1x ./server
func BenchmarkSlowloris(b *testing.B) {
	n := 5000
	if v := os.Getenv("PRICING_SLOWLORIS_CONNS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			b.Fatal(err)
		}
	}
	cfg := shortTimeouts()
	cfg.HeaderTimeout = 3 * time.Second
	ts := startServer(b, serverOpts{cfg: cfg})
	for b.Loop() {
		base := p95(sampleLatency(b, ts.addr, 2*time.Second))
		sl := startSlowloris(ts.addr, n, 500*time.Millisecond, 30*time.Second)
		under := p95(sampleLatency(b, ts.addr, 2*time.Second))
		sl.wg.Wait()
		b.ReportMetric(float64(base.Microseconds()), "p95-base-us")
		b.ReportMetric(float64(under.Microseconds()), "p95-attack-us")
		b.ReportMetric(float64(under)/float64(base), "p95-ratio")
		b.ReportMetric(float64(sl.closed.Load()), "closed")
		b.ReportMetric(float64(sl.silent.Load()), "closed-silently")
		if c := sl.closed.Load(); c != int64(n) {
			b.Errorf("%d of %d trickling connections closed by the header timeout (%d otherwise: %s)", c, n, sl.other.Load(), sl.why())
		}
	}
}
