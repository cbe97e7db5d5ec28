package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// drainLoad counts what keep-alive clients saw while the server drained.
type drainLoad struct {
	signalled atomic.Bool  // set just before SIGTERM is sent
	sigAt     atomic.Int64 // when, in Unix nanoseconds

	ok            atomic.Int64 // 200 replies
	okAfterSignal atomic.Int64 // of which after SIGTERM
	closes        atomic.Int64 // 200 replies carrying Connection: close
	refused       atomic.Int64 // workers ended by a refused reconnect after SIGTERM
	failed        atomic.Int64 // requests written on an established connection without a 200

	reconnect bool // after a Connection: close reply, dial again (else the worker ends)

	warm     chan struct{} // closed when ok reaches warmCount
	warmOnce sync.Once

	mu      sync.Mutex
	samples []string // the first failures, for the report
}

const (
	drainWorkers   = 8
	drainWarm      = 100   // successful requests before SIGTERM
	drainPerWorker = 20000 // bound on one worker's requests
	drainBudget    = 30 * time.Second
)

func (l *drainLoad) fail(format string, args ...any) {
	l.failed.Add(1)
	msg := fmt.Sprintf(format, args...)
	if at := l.sigAt.Load(); at != 0 {
		msg = fmt.Sprintf("SIGTERM+%v: %s", time.Duration(time.Now().UnixNano()-at).Round(time.Millisecond), msg)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < 20 {
		l.samples = append(l.samples, msg)
	}
}

// worker posts in a loop on a keep-alive connection. A request written on
// an established connection must get a 200; a 200 with Connection: close
// ends the connection and the worker reconnects. After SIGTERM a refused
// reconnect ends the worker (the listener is gone): not a failure.
func (l *drainLoad) worker(api string, id int, stop <-chan struct{}, deadline time.Time) {
	var (
		conn net.Conn
		br   *bufio.Reader
		sent int // requests on the current connection
	)
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for i := 0; i < drainPerWorker && time.Now().Before(deadline); i++ {
		select {
		case <-stop:
			return
		default:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", api, 2*time.Second)
			if err != nil {
				if l.signalled.Load() {
					l.refused.Add(1)
				} else {
					l.fail("worker %d: dial before SIGTERM: %v", id, err)
				}
				return
			}
			conn, br, sent = c, bufio.NewReader(c), 0
		}
		after := l.signalled.Load()
		product := 100 + (id*7919+i)%900
		body := fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY","is_prime_member":%t}`, product, i%2 == 0)
		req := fmt.Sprintf("POST /api/v1/price HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", api, len(body), body)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // failure bound
		sent++
		if _, err := io.WriteString(conn, req); err != nil {
			l.fail("worker %d: request %d on its connection (written after SIGTERM: %v): write: %v", id, sent, after, err)
			_ = conn.Close()
			conn = nil
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			l.fail("worker %d: request %d on its connection (written after SIGTERM: %v): no reply: %v", id, sent, after, err)
			_ = conn.Close()
			conn = nil
			continue
		}
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		want := fmt.Sprintf(`{"product_id":"P-%d",`, product)
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(got), want) {
			l.fail("worker %d: request %d on its connection: %d %q (read error %v)", id, sent, resp.StatusCode, got, err)
			_ = conn.Close()
			conn = nil
			continue
		}
		if l.ok.Add(1) >= drainWarm {
			l.warmOnce.Do(func() { close(l.warm) })
		}
		if l.signalled.Load() {
			l.okAfterSignal.Add(1)
		}
		if resp.Close {
			l.closes.Add(1)
			_ = conn.Close()
			conn = nil
			if !l.reconnect {
				return
			}
		}
	}
}

// TestE2EDrain sends SIGTERM under keep-alive load: /readyz
// fails at once, no request written on an accepted connection is lost, and
// the process exits 0 within --shutdown-timeout. Clients either go away
// after a Connection: close reply (as behind a load balancer that has seen
// /readyz fail) or keep reconnecting until the listener is gone.
func TestE2EDrain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reconnect bool
	}{
		{"clients leave on Connection: close", false},
		{"clients reconnect until refused", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testDrain(t, tc.reconnect) })
	}
}

func testDrain(t *testing.T, reconnect bool) {
	const drainDelay = 500 * time.Millisecond
	p := startServer(t, append(loopbackArgs, "--lookup-latency=seed", "--drain-delay="+drainDelay.String(), "--shutdown-timeout=10s"))

	l := &drainLoad{warm: make(chan struct{}), reconnect: reconnect}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(drainBudget)
	for i := 0; i < drainWorkers; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			l.worker(p.api, id, stop, deadline)
		}(i)
	}
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	stopWorkers := sync.OnceFunc(func() { close(stop); <-workersDone })
	defer stopWorkers()

	warmTimer := time.NewTimer(drainBudget)
	defer warmTimer.Stop()
	select {
	case <-l.warm:
	case <-workersDone:
		t.Fatalf("workers ended before %d replies: %d failed %v", drainWarm, l.failed.Load(), l.samples)
	case <-warmTimer.C:
		t.Fatalf("fewer than %d replies within %s", drainWarm, drainBudget)
	}

	sigAt := time.Now()
	l.sigAt.Store(sigAt.UnixNano())
	l.signalled.Store(true)
	okAtSignal := l.ok.Load()
	p.signal(syscall.SIGTERM)

	// /readyz on the admin port must answer 503 at once: poll until it
	// does, bounded by the drain delay (after which the server may close).
	readyClient := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var notReadyAfter time.Duration
	for polls := 0; polls < 10000; polls++ {
		resp, err := readyClient.Get("http://" + p.admin + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz after SIGTERM: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			notReadyAfter = time.Since(sigAt)
			if resp.Header.Get("Retry-After") == "" {
				t.Error("/readyz 503 without Retry-After")
			}
			break
		}
		if resp.StatusCode != 200 || time.Since(sigAt) > drainDelay {
			t.Fatalf("/readyz still %d %s after SIGTERM", resp.StatusCode, time.Since(sigAt))
		}
	}
	if notReadyAfter == 0 {
		t.Fatal("/readyz never answered 503")
	}
	okAtNotReady := l.ok.Load()

	code := p.wait(exitTimeout)
	exitAfter := time.Since(sigAt)
	stopWorkers() // those still going would only find the port closed

	t.Logf("SIGTERM after %d replies; /readyz 503 after %v; exit %d after %v", okAtSignal, notReadyAfter.Round(time.Microsecond), code, exitAfter.Round(time.Millisecond))
	t.Logf("replies: %d ok (%d after SIGTERM, %d between SIGTERM and the first 503 of /readyz), %d with Connection: close; %d workers ended by a refused reconnect; %d failed",
		l.ok.Load(), l.okAfterSignal.Load(), okAtNotReady-okAtSignal, l.closes.Load(), l.refused.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d requests written on an established connection got no 200:\n%s", n, strings.Join(l.samples, "\n"))
	}
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if l.okAfterSignal.Load() == 0 {
		t.Error("no request succeeded after SIGTERM: the drain delay did not keep serving")
	}
	if l.closes.Load() == 0 {
		t.Error("no reply carried Connection: close while draining")
	}
	if exitAfter < drainDelay {
		t.Errorf("exited %v after SIGTERM, before the %v drain delay", exitAfter, drainDelay)
	}
}
