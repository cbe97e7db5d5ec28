package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// priceRequest is the body the generator sends.
type priceRequest struct {
	ProductID string `json:"product_id"`
	Location  string `json:"user_location"`
	Member    bool   `json:"is_prime_member"`
}

// action says how the test server answers one request.
type action struct {
	status  int           // 0 means 200 with a correct quote
	body    string        // used when status != 0 or raw is set
	delay   time.Duration // before answering
	hang    bool          // never answer; wait for the client to go
	garbage bool          // answer bytes that are not HTTP
	// closeAfter closes the connection after the answer without saying
	// so, as a server closing an idle keep-alive connection does.
	closeAfter bool
}

// behaviour decides the action for a request; it may block (until ctx is
// done) to simulate a stall.
type behaviour func(ctx context.Context, req priceRequest) action

// testServer is a raw HTTP/1.1 server on loopback with pluggable
// behaviour, counting what it sees.
type testServer struct {
	t     *testing.T
	ln    net.Listener
	do    behaviour
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}

	accepted atomic.Int64
	requests atomic.Int64
	items    atomic.Int64   // batch items seen
	sources  map[string]int // remote IP -> connections, under mu
}

func startTestServer(t *testing.T, do behaviour) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &testServer{t: t, ln: ln, do: do, ctx: ctx, stop: stop, conns: make(map[net.Conn]struct{}), sources: make(map[string]int)}
	s.wg.Go(s.acceptLoop)
	t.Cleanup(s.close)
	return s
}

func (s *testServer) url() string { return "http://" + s.ln.Addr().String() + "/api/v1/price" }

func (s *testServer) close() {
	s.stop()
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			s.sources[ta.IP.String()]++
		}
		s.mu.Unlock()
		s.wg.Go(func() {
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		})
	}
}

func (s *testServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		s.requests.Add(1)
		if strings.HasSuffix(req.URL.Path, "/prices") {
			if !s.serveBatch(c, raw) {
				return
			}
			continue
		}
		var pr priceRequest
		if err := json.Unmarshal(raw, &pr); err != nil {
			s.t.Errorf("test server: bad request body %q: %v", raw, err)
			return
		}
		a := s.do(s.ctx, pr)
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-s.ctx.Done():
				return
			}
		}
		if a.hang {
			// Wait until the client closes the connection or the server stops.
			s.wg.Go(func() { <-s.ctx.Done(); _ = c.Close() })
			_, _ = io.Copy(io.Discard, br)
			return
		}
		var out string
		switch {
		case a.garbage:
			out = "HELLO THERE\r\n\r\n"
		case a.status == 0:
			body := quoteFor(pr)
			out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		default:
			out = fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", a.status, len(a.body), a.body)
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
		if req.Close || a.garbage || a.closeAfter {
			return
		}
	}
}

// serveBatch answers a batch request: each item as the behaviour says (a
// quote, or {"error":{"status":S,"detail":D}} for a status). It reports
// whether the connection stays usable.
func (s *testServer) serveBatch(c net.Conn, raw []byte) bool {
	var br struct {
		Items []priceRequest `json:"items"`
	}
	if err := json.Unmarshal(raw, &br); err != nil {
		s.t.Errorf("test server: bad batch body %q: %v", raw, err)
		return false
	}
	s.items.Add(int64(len(br.Items)))
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i, it := range br.Items {
		if i > 0 {
			b.WriteByte(',')
		}
		if a := s.do(s.ctx, it); a.status != 0 {
			fmt.Fprintf(&b, `{"error":{"status":%d,%s}`, a.status, strings.TrimPrefix(a.body, "{"))
			continue
		}
		b.WriteString(quoteFor(it))
	}
	b.WriteString("]}")
	out := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(b.Len()) + "\r\n\r\n" + b.String()
	_, err := io.WriteString(c, out)
	return err == nil
}

// specMultiplier is the multiplier of loc in the built-in markets, as the
// contract states them (written out here so that the test server does not
// share the checker's reading of the data).
func specMultiplier(loc string) float64 {
	switch loc {
	case "NY":
		return 1.10
	case "LA":
		return 1.05
	case "MIA":
		return 0.95
	case "SF":
		return 1.15
	default: // CHI 1.00 and the "*" row
		return 1.00
	}
}

// quoteFor answers req as the built-in data would (the contract's rule:
// base 49.99 + n mod 10 for product P-n).
func quoteFor(req priceRequest) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(req.ProductID, "P-"))
	base := 49.99 + float64(n%10)
	mult := specMultiplier(req.Location)
	disc := 0.0
	if req.Member {
		disc = 0.05
	}
	final := math.Round(base*mult*(1-disc)*100) / 100
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return `{"product_id":"` + req.ProductID + `","final_price":` + f(final) + `,"base_price":` + f(base) +
		`,"market_multiplier":` + f(mult) + `,"discount_rate":` + f(disc) + `,"source":"live"}`
}
