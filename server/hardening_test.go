package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/server"
)

// Small bounds so that the timeout tests run in a fraction of a second.
const (
	testTimeout = 200 * time.Millisecond
	testTick    = 20 * time.Millisecond
)

func shortTimeouts() server.Config {
	return server.Config{
		HeaderTimeout: testTimeout,
		BodyTimeout:   testTimeout,
		IdleTimeout:   testTimeout,
		WriteTimeout:  testTimeout,
		TickInterval:  testTick,
	}
}

// metricValue scrapes the admin listener and returns the value of the
// series whose text (name and labels, as exposed) is series, or 0.
func metricValue(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + ts.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

// waitMetric polls a metric until it reaches at least want (positive
// evidence); the deadline only bounds a failing test.
func waitMetric(t *testing.T, ts *testServer, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := metricValue(t, ts, series)
		if v >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want >= %v", series, v, want)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func rejected(reason string) string {
	return `pricing_requests_rejected_total{reason="` + reason + `"}`
}

// readUntilEOF reads and returns every byte until the server closes c.
// It fails if the read ends any other way (deadline: the server did not
// close).
func readUntilEOF(t *testing.T, c net.Conn, r io.Reader) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the server: %v (after %d bytes)", err, len(b))
	}
	return b
}

func TestTimeouts(t *testing.T) {
	ts := startServer(t, serverOpts{cfg: shortTimeouts()})
	vb := `{"product_id":"P-1","user_location":"NY"}`
	cases := []struct {
		name string
		raw  string // sent, then nothing more
		want int    // reply status before close, 0 for none
	}{
		{name: "fresh connection sends nothing", raw: "", want: 0},
		{name: "partial request line", raw: "POST /api/v1/pr", want: 408},
		{name: "partial header section", raw: "POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Len", want: 408},
		{name: "partial body", raw: "POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\n\r\n{\"prod", want: 408},
		{name: "partial chunked body", raw: "POST /api/v1/price HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"pro\r\n", want: 408},
		{name: "idle after a request", raw: priceReq(vb), want: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dialed := time.Now()
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			start := time.Now()
			if tc.raw == "" {
				// A silent connection's clock starts when the server
				// accepts it, which can precede the moment dial returns
				// here; the earliest point the client knows is before
				// dialling.
				start = dialed
			}
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			if tc.want != 0 {
				r, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no reply: %v", err)
				}
				body := bodyOf(t, r)
				if r.StatusCode != tc.want {
					t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.want, body)
				}
				if tc.want == 408 && (!r.Close || body != `{"detail":"request timeout"}`) {
					t.Errorf("408 reply: close %v body %s", r.Close, body)
				}
			}
			if rest := readUntilEOF(t, c, br); len(rest) > 0 {
				t.Errorf("unexpected bytes before close: %q", rest)
			}
			if el := time.Since(start); el < testTimeout {
				t.Errorf("closed after %v, before the %v timeout", el, testTimeout)
			}
		})
	}
	if v := metricValue(t, ts, rejected("timeout")); v < 5 {
		t.Errorf("timeout rejections = %v, want >= 5", v)
	}
}

// TestTrickleStillTimesOut sends a header section one byte at a time,
// faster than the tick: activity must not extend the header deadline. The
// evidence is the order of events, not a clock: the 408 arrives while the
// trickle is still sending (it would take 20 header timeouts to finish).
func TestTrickleStillTimesOut(t *testing.T) {
	ts := startServer(t, serverOpts{cfg: shortTimeouts()})
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	head := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
	done := make(chan struct{})
	var sent atomic.Int64
	go func() {
		defer close(done)
		for i := range len(head) {
			if _, err := c.Write([]byte{head[i]}); err != nil {
				return // closed by the server: expected
			}
			sent.Add(1)
			time.Sleep(10 * time.Millisecond) // the trickle's pace
		}
	}()
	r, err := http.ReadResponse(br, nil)
	if err != nil || r.StatusCode != 408 {
		t.Fatalf("want 408, got %v %v", r, err)
	}
	if n := sent.Load(); n >= int64(len(head)) {
		t.Errorf("408 only after all %d trickled bytes: they extended the header deadline", n)
	}
	readUntilEOF(t, c, br)
	<-done
}

// Test408AfterPendingReply: a request on the pool is still running when the
// next request's header times out. The 408 must not overtake the reply.
func Test408AfterPendingReply(t *testing.T) {
	cat := delaySource(t, func([]byte) time.Duration { return 3 * testTimeout })
	ts := startServer(t, serverOpts{cfg: shortTimeouts(), src: cat})
	c := dial(t, ts.addr)
	br := bufio.NewReader(c)
	raw := priceReq(`{"product_id":"P-5","user_location":"NY"}`) + "GET /healthz HTTP/1.1\r\nHo"
	rs := exchange(t, c, br, raw, 2)
	if rs[0].StatusCode != 200 || !strings.Contains(bodyOf(t, rs[0]), `"product_id":"P-5"`) {
		t.Fatalf("first reply %d %s", rs[0].StatusCode, bodyOf(t, rs[0]))
	}
	if rs[1].StatusCode != 408 || !rs[1].Close {
		t.Fatalf("second reply %d close %v", rs[1].StatusCode, rs[1].Close)
	}
	if rest := readUntilEOF(t, c, br); len(rest) > 0 {
		t.Errorf("bytes after the 408: %q", rest)
	}
}

// smallRecvDialer dials with a tiny receive buffer, so that a client that
// does not read fills the server's output quickly.
func smallRecvDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestWriteTimeoutDropsNonReader pipelines requests for a 25 KB document and
// never reads: the output is throttled at MaxOutboundBytes, makes no
// progress, and the connection is closed after WriteTimeout.
func TestWriteTimeoutDropsNonReader(t *testing.T) {
	cfg := shortTimeouts()
	cfg.MaxOutboundBytes = 64 << 10
	ts := startServer(t, serverOpts{cfg: cfg})
	c := smallRecvDial(t, ts.addr)
	const n = 400 // 400 x 25 KB = 10 MB of replies, far past every buffer
	req := strings.Repeat("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", n)
	go func() { _, _ = io.WriteString(c, req) }() // may block: nobody reads
	waitMetric(t, ts, rejected("timeout"), 1)
	b := readUntilEOF(t, c, c)
	if got := bytes.Count(b, []byte("HTTP/1.1 200 OK")); got >= n {
		t.Fatalf("all %d replies delivered to a client that did not read", got)
	}
	// Everyone else is still served.
	c2 := dial(t, ts.addr)
	if r := exchange(t, c2, bufio.NewReader(c2), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
}

// TestSlowReaderIsThrottledNotDropped reads its replies slowly but steadily:
// the write clock restarts on progress, so every reply arrives.
func TestSlowReaderIsThrottledNotDropped(t *testing.T) {
	cfg := shortTimeouts()
	cfg.MaxOutboundBytes = 32 << 10
	cfg.WriteTimeout = 500 * time.Millisecond
	ts := startServer(t, serverOpts{cfg: cfg})
	c := smallRecvDial(t, ts.addr)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	const n = 40 // 1 MB of replies
	go func() {
		_, _ = io.WriteString(c, strings.Repeat("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", n))
	}()
	br := bufio.NewReaderSize(c, 4096)
	buf := make([]byte, 64<<10)
	for i := range n {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		for {
			k, err := r.Body.Read(buf)
			_ = k
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reply %d body: %v", i, err)
			}
			time.Sleep(time.Millisecond) // the slow reader's pace
		}
		if r.StatusCode != 200 {
			t.Fatalf("reply %d: status %d", i, r.StatusCode)
		}
	}
}

func TestBounds(t *testing.T) {
	t.Run("connection limit", func(t *testing.T) {
		ts := startServer(t, serverOpts{cfg: server.Config{MaxConns: 2}})
		var keep []net.Conn
		for range 2 {
			c := dial(t, ts.addr)
			exchange(t, c, bufio.NewReader(c), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)
			keep = append(keep, c)
		}
		c := dial(t, ts.addr)
		br := bufio.NewReader(c)
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" || !r.Close ||
			!strings.HasPrefix(bodyOf(t, r), `{"detail":`) {
			t.Fatalf("refusal: %d %v %s", r.StatusCode, r.Header, bodyOf(t, r))
		}
		readUntilEOF(t, c, br)
		if v := metricValue(t, ts, rejected("conn_limit")); v != 1 {
			t.Errorf("conn_limit rejections = %v", v)
		}
		// A freed slot is usable again (OnClose runs asynchronously:
		// retry until the positive evidence, a 200, arrives).
		_ = keep[0].Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c := dial(t, ts.addr)
			r := exchange(t, c, bufio.NewReader(c), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]
			if r.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("slot never freed")
			}
		}
	})

	t.Run("waiting limit", func(t *testing.T) {
		cat := newBlockingSource(t)
		ts := startServer(t, serverOpts{src: cat, cfg: server.Config{MaxWaiting: 1}, deadline: 10 * time.Second})
		t.Cleanup(cat.open)
		a := dial(t, ts.addr)
		abr := bufio.NewReader(a)
		if _, err := io.WriteString(a, priceReq(`{"product_id":"P-1","user_location":"NY"}`)); err != nil {
			t.Fatal(err)
		}
		<-cat.started
		// The lookup starts before the request is counted as waiting (and
		// b may land on another loop): wait until it is counted.
		waitMetric(t, ts, "pricing_lookups_waiting", 1)
		b := dial(t, ts.addr)
		bbr := bufio.NewReader(b)
		r := exchange(t, b, bbr, priceReq(`{"product_id":"P-2","user_location":"NY"}`), 1)[0]
		if body := bodyOf(t, r); r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" ||
			body != `{"detail":"server overloaded: try again shortly"}` {
			t.Fatalf("overloaded reply: %d %v %s", r.StatusCode, r.Header, body)
		}
		if connClosed(b, bbr) {
			t.Error("shed request closed its connection")
		}
		if v := metricValue(t, ts, rejected("waiting_limit")); v != 1 {
			t.Errorf("waiting_limit rejections = %v", v)
		}
		if v := metricValue(t, ts, rejected("pool_full")); v != 0 {
			t.Errorf("pool_full rejections = %v, want 0: no price request uses the pool", v)
		}
		for series, want := range map[string]float64{
			"pricing_lookups_waiting": 1, "pricing_lookups_waiting_limit": 1, "pricing_requests_in_flight": 1,
			"pricing_pool_queue_depth": 0, "pricing_pool_workers_busy": 0,
		} {
			if v := metricValue(t, ts, series); v != want {
				t.Errorf("%s = %v, want %v", series, v, want)
			}
		}
		cat.open()
		if r := exchange(t, a, abr, "", 1)[0]; r.StatusCode != 200 {
			t.Fatalf("held request: %d", r.StatusCode)
		}
		if v := metricValue(t, ts, "pricing_lookups_waiting"); v != 0 {
			t.Errorf("pricing_lookups_waiting = %v after the reply, want 0", v)
		}
	})

	// Batches wait on lookups like price requests, under the same bound:
	// a batch holding the only waiting slot refuses the next batch and
	// the next price request; the worker pool (its own bound,
	// TestPoolFullRefusesMetrics) is not used.
	t.Run("batch waiting limit", func(t *testing.T) {
		cat := newBlockingSource(t)
		ts := startServer(t, serverOpts{src: cat, cfg: server.Config{MaxWaiting: 1, PoolSize: 1}, deadline: 10 * time.Second})
		t.Cleanup(cat.open)
		const batch = `{"items":[{"product_id":"P-1","user_location":"NY"}]}`
		batchReq := "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(batch), batch)
		a := dial(t, ts.addr)
		abr := bufio.NewReader(a)
		if _, err := io.WriteString(a, batchReq); err != nil {
			t.Fatal(err)
		}
		<-cat.started // the batch waits on its item's lookups
		waitMetric(t, ts, "pricing_lookups_waiting", 1)
		b := dial(t, ts.addr)
		bbr := bufio.NewReader(b)
		for _, req := range []string{batchReq, priceReq(`{"product_id":"P-2","user_location":"NY"}`)} {
			r := exchange(t, b, bbr, req, 1)[0]
			if body := bodyOf(t, r); r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" ||
				body != `{"detail":"server overloaded: try again shortly"}` {
				t.Fatalf("overloaded reply: %d %v %s", r.StatusCode, r.Header, body)
			}
		}
		for series, want := range map[string]float64{
			rejected("waiting_limit"): 2, rejected("pool_full"): 0,
			"pricing_pool_workers_busy": 0, "pricing_pool_queue_depth": 0,
			"pricing_lookups_waiting": 1, "pricing_requests_in_flight": 1,
		} {
			if v := metricValue(t, ts, series); v != want {
				t.Errorf("%s = %v, want %v", series, v, want)
			}
		}
		cat.open()
		if r := exchange(t, a, abr, "", 1)[0]; r.StatusCode != 200 {
			t.Fatalf("held batch: %d", r.StatusCode)
		}
		if v := metricValue(t, ts, "pricing_lookups_waiting"); v != 0 {
			t.Errorf("pricing_lookups_waiting = %v after the reply, want 0", v)
		}
	})

	t.Run("pipeline depth", func(t *testing.T) {
		cat := newBlockingSource(t)
		ts := startServer(t, serverOpts{src: cat, cfg: server.Config{MaxPipeline: 4, Loops: 1}, deadline: 10 * time.Second})
		t.Cleanup(cat.open)
		c := dial(t, ts.addr)
		br := bufio.NewReader(c)
		const n = 10
		var raw strings.Builder
		for i := range n {
			raw.WriteString(priceReq(fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY"}`, i)))
		}
		if _, err := io.WriteString(c, raw.String()); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			<-cat.started
		}
		// One loop: once another connection is answered, the loop has
		// finished with the first one's bytes.
		c2 := dial(t, ts.addr)
		exchange(t, c2, bufio.NewReader(c2), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)
		if v := metricValue(t, ts, "pricing_requests_in_flight"); v != 4 {
			t.Errorf("in flight = %v, want the pipeline bound 4", v)
		}
		if v := metricValue(t, ts, "pricing_lookups_waiting"); v != 4 {
			t.Errorf("waiting on lookups = %v, want the pipeline bound 4", v)
		}
		// Price requests wait on lookups, not on the worker pool.
		if v := metricValue(t, ts, "pricing_pool_queue_depth"); v != 0 {
			t.Errorf("queue depth = %v, want 0: no pool task", v)
		}
		if v := metricValue(t, ts, "pricing_pool_workers_busy"); v != 0 {
			t.Errorf("busy workers = %v, want 0: no pool task", v)
		}
		cat.open()
		for i, r := range exchange(t, c, br, "", n) {
			if body := bodyOf(t, r); r.StatusCode != 200 || !strings.Contains(body, fmt.Sprintf(`"product_id":"P-%d"`, i)) {
				t.Fatalf("reply %d: %d %s", i, r.StatusCode, body)
			}
		}
	})

	t.Run("inbound flood past a full pipeline", func(t *testing.T) {
		cat := newBlockingSource(t)
		ts := startServer(t, serverOpts{src: cat, cfg: server.Config{MaxPipeline: 1, MaxInboundBytes: 64 << 10}, deadline: 10 * time.Second})
		t.Cleanup(cat.open)
		c := dial(t, ts.addr)
		if _, err := io.WriteString(c, priceReq(`{"product_id":"P-1","user_location":"NY"}`)); err != nil {
			t.Fatal(err)
		}
		<-cat.started
		flood := strings.Repeat("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", (1<<20)/35)
		go func() { _, _ = io.WriteString(c, flood) }() // fails once closed
		if b := readUntilEOF(t, c, c); len(b) > 0 {
			t.Errorf("replies to a flooding client: %.100q", b)
		}
		if v := metricValue(t, ts, rejected("input_limit")); v != 1 {
			t.Errorf("input_limit rejections = %v", v)
		}
	})
}

func TestLookupFaults(t *testing.T) {
	cases := []struct {
		name, profile string
		detail        string
	}{
		{name: "error", profile: "fault:err=1", detail: `{"detail":"lookup failed"}`},
		{name: "stall past the deadline", profile: "fault:stall=1,stalldur=1m", detail: `{"detail":"lookup timed out"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := lookup.ParseProfile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			ts := startServer(t, serverOpts{src: p.Wrap(memorySource(t)), deadline: 150 * time.Millisecond, log: &logs, debugLog: true})
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			// The detail is the evidence that the deadline fired: the
			// stall lasts a minute, far past the exchange's own bound.
			r := exchange(t, c, br, priceReq(`{"product_id":"P-1","user_location":"NY"}`), 1)[0]
			if body := bodyOf(t, r); r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" ||
				r.Header.Get("Content-Type") != "application/json" || body != tc.detail {
				t.Fatalf("reply %d %v %s", r.StatusCode, r.Header, body)
			}
			if connClosed(c, br) {
				t.Error("lookup failure closed the connection")
			}
			if v := metricValue(t, ts, rejected("lookup_error")); v != 1 {
				t.Errorf("lookup_error rejections = %v", v)
			}
			// The failure's log line carries the id the client saw.
			if id := r.Header.Get("X-Request-Id"); len(id) != 32 || !strings.Contains(logs.String(), "request_id="+id) ||
				!strings.Contains(logs.String(), "request failed") {
				t.Errorf("no log line with request_id=%s: %.500s", id, logs.String())
			}
		})
	}
}

// syncBuffer is a goroutine-safe log sink.
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

func TestPanicIsContained(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  *testSource
	}{
		{"in an instant back end", &testSource{mem: memorySource(t), panicOn: "P-666"}},
		{"in an asynchronous back end, behind a pending reply", &testSource{mem: memorySource(t), panicOn: "P-666",
			delay: func([]byte) time.Duration { return 20 * time.Millisecond }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			ts := startServer(t, serverOpts{src: tc.src, log: &logs})
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			other := dial(t, ts.addr)
			obr := bufio.NewReader(other)
			exchange(t, other, obr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)

			raw := priceReq(`{"product_id":"P-1","user_location":"NY"}`) +
				priceReq(`{"product_id":"P-666","user_location":"NY"}`) +
				priceReq(`{"product_id":"P-2","user_location":"NY"}`)
			rs := exchange(t, c, br, raw, 2)
			if rs[0].StatusCode != 200 || !strings.Contains(bodyOf(t, rs[0]), `"product_id":"P-1"`) {
				t.Fatalf("reply before the panic: %d %s", rs[0].StatusCode, bodyOf(t, rs[0]))
			}
			if body := bodyOf(t, rs[1]); rs[1].StatusCode != 500 || !rs[1].Close || body != `{"detail":"internal server error"}` {
				t.Fatalf("panic reply: %d close %v %s", rs[1].StatusCode, rs[1].Close, body)
			}
			if rest := readUntilEOF(t, c, br); len(rest) > 0 {
				t.Errorf("bytes after the 500: %q", rest)
			}
			// The other connection and new ones are still served.
			if r := exchange(t, other, obr, priceReq(`{"product_id":"P-3","user_location":"NY"}`), 1)[0]; r.StatusCode != 200 {
				t.Fatalf("other connection: %d", r.StatusCode)
			}
			c3 := dial(t, ts.addr)
			if r := exchange(t, c3, bufio.NewReader(c3), priceReq(`{"product_id":"P-4","user_location":"NY"}`), 1)[0]; r.StatusCode != 200 {
				t.Fatalf("new connection: %d", r.StatusCode)
			}
			if v := metricValue(t, ts, rejected("panic")); v != 1 {
				t.Errorf("panic rejections = %v", v)
			}
			if l := logs.String(); !strings.Contains(l, "test panic for P-666") || !strings.Contains(l, "goroutine") {
				t.Errorf("panic not logged with its stack: %.300s", l)
			}
			// The 500 and the panic's log line carry the same request id.
			if id := rs[1].Header.Get("X-Request-Id"); len(id) != 32 || !strings.Contains(logs.String(), "request_id="+id) {
				t.Errorf("panic log without the 500's request_id=%s: %.300s", id, logs.String())
			}
		})
	}
}

// TestAdminPanicIsContained: a panic while serving the admin listener
// takes the same recover path as the event loops: logged with its stack,
// counted, answered with the same 500 that closes the connection; the
// listener keeps serving.
func TestAdminPanicIsContained(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, serverOpts{src: &testSource{mem: memorySource(t), panicOn: "P-666"}, log: &logs})
	c := dial(t, ts.admin)
	br := bufio.NewReader(c)
	r := exchange(t, c, br, priceReq(`{"product_id":"P-666","user_location":"NY"}`), 1)[0]
	if body := bodyOf(t, r); r.StatusCode != 500 || !r.Close || body != `{"detail":"internal server error"}` ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("panic reply: %d close %v %v %s", r.StatusCode, r.Close, r.Header, body)
	}
	if !waitEOF(c, br) {
		t.Error("the admin connection stayed open after a 500")
	}
	c2 := dial(t, ts.admin)
	if r := exchange(t, c2, bufio.NewReader(c2), priceReq(`{"product_id":"P-4","user_location":"NY"}`), 1)[0]; r.StatusCode != 200 {
		t.Fatalf("admin after the panic: %d", r.StatusCode)
	}
	if v := metricValue(t, ts, rejected("panic")); v != 1 {
		t.Errorf("panic rejections = %v", v)
	}
	if l := logs.String(); !strings.Contains(l, "test panic for P-666") || !strings.Contains(l, "goroutine") {
		t.Errorf("panic not logged with its stack: %.300s", l)
	}
}
