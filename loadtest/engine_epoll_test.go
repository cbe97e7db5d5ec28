package loadtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// openLoopConfig returns a small open-loop configuration against url with
// the given engine.
func openLoopConfig(url, engine string) Config {
	cfg := testConfig(url)
	cfg.Rate = 400
	cfg.Engine = engine
	return cfg
}

var engines = []string{EngineGoroutine, EngineEpoll}

// TestEnginesFailureClasses: both open-loop engines count every outcome
// exactly as the server saw it, reason by reason.
func TestEnginesFailureClasses(t *testing.T) {
	badQuote := `{"product_id":"P-%d","final_price":1,"base_price":49.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`
	tests := []struct {
		name string
		do   behaviour // nil: no server (connection refused)
	}{
		{"ok", func(context.Context, priceRequest) action { return action{} }},
		{"5xx", func(context.Context, priceRequest) action { return action{status: 503, body: `{"detail":"busy"}`} }},
		{"malformed", func(context.Context, priceRequest) action { return action{garbage: true} }},
		{"timeout", func(context.Context, priceRequest) action { return action{hang: true} }},
		{"refused", nil},
		{"mixed by product", func(_ context.Context, r priceRequest) action {
			switch r.ProductID {
			case "P-1":
				return action{status: 500, body: `{"detail":"boom"}`}
			case "P-2":
				return action{status: 200, body: strings.Replace(badQuote, "P-%d", r.ProductID, 1)}
			case "P-3":
				return action{hang: true}
			case "P-4":
				return action{garbage: true}
			}
			return action{}
		}},
	}
	for _, engine := range engines {
		for _, tc := range tests {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				var mu sync.Mutex
				seen := map[string]int64{}
				url := refusedURL(t)
				if tc.do != nil {
					srv := startTestServer(t, func(ctx context.Context, r priceRequest) action {
						mu.Lock()
						seen[r.ProductID]++
						mu.Unlock()
						return tc.do(ctx, r)
					})
					url = srv.url()
				}
				cfg := openLoopConfig(url, engine)
				cfg.MaxRequests = 40
				cfg.Timeout = 150 * time.Millisecond
				cfg.Workload.ProductMin, cfg.Workload.ProductMax = 1, 5
				res := mustRun(t, cfg)

				mu.Lock()
				defer mu.Unlock()
				var want map[string]int64
				var wantOK int64
				switch tc.name {
				case "ok":
					want, wantOK = map[string]int64{}, 40
				case "5xx":
					want = map[string]int64{"status_503": 40}
				case "malformed":
					want = map[string]int64{ReasonMalformed: 40}
				case "timeout":
					want = map[string]int64{ReasonTimeout: 40}
				case "refused":
					want = map[string]int64{ReasonConnError: 40}
				default:
					want = map[string]int64{"status_500": seen["P-1"], ReasonBadBody: seen["P-2"], ReasonTimeout: seen["P-3"], ReasonMalformed: seen["P-4"]}
					wantOK = seen["P-5"]
				}
				if res.Requests != 40 || res.Successes != wantOK {
					t.Errorf("requests %d successes %d, want 40 and %d (%v %v)", res.Requests, res.Successes, wantOK, res.FailuresByReason, res.FailureSamples)
				}
				checkFailures(t, res, want)
				if res.Mode != "open-loop" {
					t.Errorf("mode = %q", res.Mode)
				}
			})
		}
	}
}

// refusedURL returns the URL of a loopback port nobody listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/api/v1/price"
	_ = ln.Close()
	return url
}

// TestEnginesConnections: both open-loop engines use the same connections
// for the same modes: every connection of the run once when kept alive
// (the idle connection the longest takes the next arrival), one per
// request with NewConn, spread over the source addresses.
func TestEnginesConnections(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Config)
		wantConns int64
	}{
		{"keep-alive", func(*Config) {}, 4},
		{"new connection per request", func(c *Config) { c.NewConn = true }, 200},
		{"bound to two sources", func(c *Config) {
			c.SourceAddrs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
		}, 4},
	}
	for _, engine := range engines {
		for _, tc := range tests {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				srv := startTestServer(t, func(context.Context, priceRequest) action { return action{} })
				cfg := openLoopConfig(srv.url(), engine)
				cfg.Rate = 2000
				cfg.MaxRequests = 200
				tc.configure(&cfg)
				res := mustRun(t, cfg)
				if res.Successes != 200 || res.Failures != 0 {
					t.Fatalf("successes %d failures %d (%v %v), want 200 and 0", res.Successes, res.Failures, res.FailuresByReason, res.FailureSamples)
				}
				if got := srv.requests.Load(); got != 200 {
					t.Errorf("server saw %d requests, want 200", got)
				}
				if got := srv.accepted.Load(); got != tc.wantConns {
					t.Errorf("server accepted %d connections, want %d", got, tc.wantConns)
				}
				srv.mu.Lock()
				defer srv.mu.Unlock()
				if len(cfg.SourceAddrs) > 0 && (srv.sources["127.0.0.2"] != 2 || srv.sources["127.0.0.3"] != 2) {
					t.Errorf("connections by source = %v, want 2 from each of 127.0.0.2 and 127.0.0.3", srv.sources)
				}
			})
		}
	}
}

// TestEnginesLargeRequests: requests larger than the socket's send
// buffer go out in several writes (the epoll engine waits for EPOLLOUT
// between them) and are answered and checked like small ones.
func TestEnginesLargeRequests(t *testing.T) {
	pad := strings.Repeat("x", 6<<20)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			srv := startTestServer(t, func(context.Context, priceRequest) action { return action{} })
			cfg := openLoopConfig(srv.url(), engine)
			cfg.Users = 2
			cfg.Rate = 100
			cfg.MaxRequests = 4
			cfg.Timeout = 10 * time.Second
			// The count bounds the run: the duration only caps it, long
			// enough for 24 MiB of writes on a loaded machine under -race.
			cfg.Duration = time.Minute
			cfg.Workload.BodyTemplate = `{"pad":"` + pad + `",` + ClassicBodyTemplate[1:]
			res := mustRun(t, cfg)
			if res.Successes != 4 || res.Failures != 0 {
				t.Fatalf("successes %d failures %d (%v %v), want 4 and 0", res.Successes, res.Failures, res.FailuresByReason, res.FailureSamples)
			}
			if got := srv.requests.Load(); got != 4 {
				t.Errorf("server saw %d requests, want 4", got)
			}
		})
	}
}

// TestEpollStaleKeepAlive: a server closing every connection after its
// reply costs no failure: the epoll engine either sees the close while
// the connection is idle and reconnects before sending, or meets it when
// sending and resends once on a fresh connection (a retry).
func TestEpollStaleKeepAlive(t *testing.T) {
	srv := startTestServer(t, func(context.Context, priceRequest) action { return action{closeAfter: true} })
	cfg := openLoopConfig(srv.url(), EngineEpoll)
	cfg.Users = 1
	cfg.MaxRequests = 5
	cfg.Rate = 50
	res := mustRun(t, cfg)
	if res.Failures != 0 || res.Successes != 5 {
		t.Fatalf("successes %d failures %d (%v), want 5 and 0", res.Successes, res.Failures, res.FailureSamples)
	}
	if got := srv.accepted.Load(); got != 5 {
		t.Errorf("server accepted %d connections, want 5", got)
	}
	if res.Retries > 4 {
		t.Errorf("retries = %d, want at most 4", res.Retries)
	}
}

// TestEpollStallShows: the epoll engine times requests from their due
// time, so a server stall of 1 s shows in the percentiles (no coordinated
// omission), as TestStallShowsInOpenLoop checks for the default engine.
func TestEpollStallShows(t *testing.T) {
	begin := time.Now()
	stallEnd := begin.Add(2 * time.Second)
	srv := startTestServer(t, func(context.Context, priceRequest) action {
		if now := time.Now(); now.Sub(begin) >= time.Second && now.Before(stallEnd) {
			return action{delay: stallEnd.Sub(now)}
		}
		return action{}
	})
	cfg := openLoopConfig(srv.url(), EngineEpoll)
	cfg.Users = 16
	cfg.Duration = 3 * time.Second
	res := mustRun(t, cfg)
	t.Logf("requests %d, p50 %.2f p99 %.2f max %.2f ms", res.Requests, res.Latency.P50, res.Latency.P99, res.Latency.Max)
	if res.Failures != 0 || res.Requests < 800 {
		t.Fatalf("requests %d failures %d (%v), want >= 800 and 0", res.Requests, res.Failures, res.FailureSamples)
	}
	if p := res.Latency.P99; p < 700 || p > 1500 {
		t.Errorf("p99 = %.1f ms, want in [700, 1500]", p)
	}
	if res.Latency.Max < 900 {
		t.Errorf("max = %.1f ms, want >= 900 (the stall)", res.Latency.Max)
	}
}

// TestEpollDurationAndWarmup: the epoll engine stops by itself at its
// duration and leaves the warm-up out.
func TestEpollDurationAndWarmup(t *testing.T) {
	srv := startTestServer(t, func(context.Context, priceRequest) action { return action{} })
	cfg := openLoopConfig(srv.url(), EngineEpoll)
	cfg.Duration = 700 * time.Millisecond
	cfg.Warmup = 200 * time.Millisecond
	cfg.Tick = 200 * time.Microsecond
	res := mustRun(t, cfg)
	if res.ElapsedSecs < cfg.Duration.Seconds() {
		t.Errorf("run stopped after %.3fs, before its duration %v", res.ElapsedSecs, cfg.Duration)
	}
	// 400 req/s for 0.7 s: arrivals 0..280; those completing in the
	// first 0.2 s (about 80) are left out.
	if got := res.Requests + res.WarmupExcluded; got < 270 || got > 281 {
		t.Errorf("requests %d + warm-up %d = %d, want about 281", res.Requests, res.WarmupExcluded, got)
	}
	if res.Failures != 0 || res.WarmupExcluded < 60 {
		t.Errorf("failures %d, warm-up excluded %d", res.Failures, res.WarmupExcluded)
	}
	if got := srv.requests.Load(); got != res.Requests+res.WarmupExcluded {
		t.Errorf("server saw %d requests, the result counts %d", got, res.Requests+res.WarmupExcluded)
	}
}

// TestEpollValidate: the epoll engine is open loop, one request per
// connection at a time.
func TestEpollValidate(t *testing.T) {
	tests := []struct {
		name    string
		f       func(*Config)
		wantErr string
	}{
		{"open loop", func(c *Config) { c.Engine, c.Rate = EngineEpoll, 100 }, ""},
		{"closed loop", func(c *Config) { c.Engine = EngineEpoll }, "open loop only"},
		{"pipelined", func(c *Config) { c.Engine, c.Rate, c.Pipeline = EngineEpoll, 100, 2 }, "pipeline must be 1"},
		{"unknown engine", func(c *Config) { c.Engine = "uring" }, "is not"},
		{"negative tick", func(c *Config) { c.Engine, c.Rate, c.Tick = EngineEpoll, 100, -1 }, "tick"},
		{"batch", func(c *Config) { c.Engine, c.Rate, c.Workload.Batch = EngineEpoll, 100, 5 }, "batch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.f(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// cannedServer answers every request on every connection with the same
// 200 reply, allocating nothing per request, so that a process's
// allocation count shows the generator's own.
func cannedServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				buf := make([]byte, 4096)
				n := 0
				for {
					m, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
					// Requests carry a body after their head; the
					// generator sends one at a time, so a read that
					// ends a request ends in its body's '}'.
					if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && buf[n-1] == '}' {
						n = 0
						if _, err := c.Write(reply); err != nil {
							return
						}
					} else if n == len(buf) {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/api/v1/price"
}

// TestEpollNoAllocsPerRequest: the epoll engine allocates nothing per
// request in the steady state: a run of 6,000 requests allocates about
// what a run of 1,000 does.
func TestEpollNoAllocsPerRequest(t *testing.T) {
	url := cannedServer(t)
	mallocs := func(n int64) uint64 {
		cfg := openLoopConfig(url, EngineEpoll)
		cfg.Workload.Check = false
		cfg.Rate = 20000
		cfg.MaxRequests = n
		cfg.ProgressInterval = time.Hour
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res := mustRun(t, cfg)
		runtime.ReadMemStats(&after)
		if res.Successes != n {
			t.Fatalf("successes %d of %d (%v %v)", res.Successes, n, res.FailuresByReason, res.FailureSamples)
		}
		return after.Mallocs - before.Mallocs
	}
	mallocs(1000) // warm up the server's buffers and goroutines
	small, large := mallocs(1000), mallocs(6000)
	t.Logf("allocations: %d for 1,000 requests, %d for 6,000", small, large)
	if large > small+250 { // 5,000 more requests: under 0.05 per request
		t.Errorf("%d allocations for 6,000 requests against %d for 1,000: the engine allocates per request", large, small)
	}
}

// fdScript feeds a clientConn in pieces with errAgain in between, as a
// non-blocking socket does.
type fdScript struct {
	data   string
	pieces []int // sizes of the reads, errAgain after each
	i      int
	again  bool
}

func (s *fdScript) Read(p []byte) (int, error) {
	if s.again {
		s.again = false
		return 0, errAgain
	}
	if s.data == "" {
		return 0, io.EOF
	}
	n := min(len(p), len(s.data))
	if s.i < len(s.pieces) {
		n = min(n, max(s.pieces[s.i], 1))
		s.i++
	}
	copy(p, s.data[:n])
	s.data = s.data[n:]
	s.again = true
	return n, nil
}

// readAll reads every response from c, retrying on errAgain, and returns
// them and the final error.
func readAll(c *clientConn) ([]response, error) {
	var out []response
	for range 100000 {
		var resp response
		err := c.readResponse(&resp)
		if err == errAgain {
			continue
		}
		if err != nil {
			return out, err
		}
		resp.body = bytes.Clone(resp.body)
		out = append(out, resp)
	}
	return out, errors.New("no end")
}

// FuzzReadResponseNonBlocking: parsing replies fed in arbitrary pieces
// from a non-blocking source (rewinding at each errAgain) gives the same
// responses and final error as reading them from a blocking one.
func FuzzReadResponseNonBlocking(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 503 X\r\ncontent-length: 1\r\n\r\nb", []byte{3, 1, 20})
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\n\r\n", []byte{1, 1, 1, 5})
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nclose-delimited", []byte{30})
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", []byte{2})
	f.Fuzz(func(t *testing.T, script string, pieces []byte) {
		if len(script) > 1<<16 {
			return
		}
		whole := newClientConn(&scriptConn{data: script, chunk: 1 << 20}, nil)
		want, wantErr := readAll(whole)
		sizes := make([]int, len(pieces))
		for i, p := range pieces {
			sizes[i] = int(p)
		}
		var c clientConn
		c.resetSource(nil, &fdScript{data: script, pieces: sizes}, nil)
		got, gotErr := readAll(&c)
		if len(got) != len(want) {
			t.Fatalf("%d responses in pieces, %d whole (errors %v, %v)", len(got), len(want), gotErr, wantErr)
		}
		for i := range got {
			if got[i].status != want[i].status || !bytes.Equal(got[i].body, want[i].body) || got[i].close != want[i].close {
				t.Fatalf("response %d: %+v in pieces, %+v whole", i, got[i], want[i])
			}
		}
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("final error %v in pieces, %v whole", gotErr, wantErr)
		}
	})
}
