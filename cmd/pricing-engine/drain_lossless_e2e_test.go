package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestE2EDrainLosslessWithThinkTime sends SIGTERM while 200 keep-alive
// clients that ignore readiness send a request every 50-500 ms each (issue
// 16): after the drain delay a connection must not be closed while its
// client may be writing, so every request written on an established
// connection gets its 200; replies carry Connection: close and the
// clients' reconnects are refused once the listener is gone. With the
// connections' think time under --drain-idle-grace (1 s), no connection
// is idle long enough to be closed under a client about to write.
func TestE2EDrainLosslessWithThinkTime(t *testing.T) {
	const (
		clients    = 200
		drainDelay = 300 * time.Millisecond
		budget     = 20 * time.Second // failure bound of the whole test
	)
	p := startServer(t, append(loopbackArgs, "--drain-delay="+drainDelay.String(), "--shutdown-timeout=15s"))

	var (
		signalled              atomic.Bool
		ok, okAfter, closes    atomic.Int64
		lost, refused, dialErr atomic.Int64
		warm                   = make(chan struct{})
		warmOnce               sync.Once
		mu                     sync.Mutex
		samples                []string
	)
	lose := func(format string, args ...any) {
		lost.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if len(samples) < 10 {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	deadline := time.Now().Add(budget)
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 16))
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					_ = c.Close()
				}
			}()
			for n := 0; time.Now().Before(deadline); n++ {
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", p.api, 2*time.Second); err != nil {
						if signalled.Load() {
							refused.Add(1) // the listener is gone: done
						} else {
							dialErr.Add(1)
						}
						return
					}
					br = bufio.NewReader(c)
				}
				time.Sleep(time.Duration(50+rng.IntN(451)) * time.Millisecond) // think time, not synchronisation
				after := signalled.Load()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, fdPriceRequest); err != nil {
					lose("client %d request %d (after SIGTERM: %v): write: %v", id, n, after, err)
					_ = c.Close()
					c = nil
					continue
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					lose("client %d request %d (after SIGTERM: %v): no reply: %v", id, n, after, err)
					_ = c.Close()
					c = nil
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					lose("client %d request %d: status %d", id, n, resp.StatusCode)
				}
				if ok.Add(1) >= clients {
					warmOnce.Do(func() { close(warm) })
				}
				if signalled.Load() {
					okAfter.Add(1)
				}
				if resp.Close {
					closes.Add(1)
					_ = c.Close()
					c = nil
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	select {
	case <-warm:
	case <-time.After(budget):
		t.Fatalf("fewer than %d replies within %s", clients, budget)
	}
	signalled.Store(true)
	p.signal(syscall.SIGTERM)
	code := p.wait(exitTimeout)
	select {
	case <-allDone:
	case <-time.After(budget):
		t.Fatal("clients still running after the server exited")
	}
	t.Logf("%d replies (%d after SIGTERM, %d with Connection: close); %d clients ended by a refused reconnect; %d lost; exit %d",
		ok.Load(), okAfter.Load(), closes.Load(), refused.Load(), lost.Load(), code)
	if n := lost.Load(); n > 0 {
		t.Errorf("%d requests written on an established connection got no 200:\n%s", n, strings.Join(samples, "\n"))
	}
	if n := dialErr.Load(); n > 0 {
		t.Errorf("%d connections refused before SIGTERM", n)
	}
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if closes.Load() == 0 || okAfter.Load() == 0 {
		t.Errorf("no reply after SIGTERM (%d) or none with Connection: close (%d)", okAfter.Load(), closes.Load())
	}
}
