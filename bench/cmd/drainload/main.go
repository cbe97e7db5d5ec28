// Command drainload measures what a server's drain loses: it starts the
// server binary (--bin, with --args), opens --conns keep-alive connections
// sending --rate requests per second in total (each connection one request
// every conns/rate seconds, not waiting for readiness), sends SIGTERM after
// --before, and keeps going as such clients do: a reply with Connection:
// close makes the client reconnect, and a refused reconnect ends it. It
// then counts the requests written on an established connection that got
// no 200, split by whether they were written before the server logged
// "stopped accepting" (the listener closed).
//
//	drainload --bin bin/pricing-engine --conns 2000 --rate 5000 --before 3s
//
// The verdict is PASS when no request written before the listener closed
// was lost (exit 1 otherwise). Everything is bounded by --budget.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/loopclient"
)

func main() {
	bin := flag.String("bin", "bin/pricing-engine", "server binary")
	args := flag.String("args", "--addr 127.0.0.1:0 --admin-addr 127.0.0.1:0 --log-format json", "server arguments (space-separated)")
	conns := flag.Int("conns", 2000, "keep-alive connections")
	rate := flag.Int("rate", 5000, "requests per second over all connections")
	sources := flag.Int("sources", 2, "loopback source addresses to spread the connections over")
	before := flag.Duration("before", 3*time.Second, "load before SIGTERM")
	budget := flag.Duration("budget", 60*time.Second, "bound on the whole run")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *budget)
	defer cancel()
	cmd := exec.CommandContext(ctx, *bin, strings.Fields(*args)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	api := make(chan string, 1)
	var stoppedAt atomic.Int64 // when "stopped accepting" was read, Unix ns
	var logMu sync.Mutex
	var logTail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "serving":
				a, _ := rec["api"].(string)
				api <- a
			case "stopped accepting":
				stoppedAt.Store(time.Now().UnixNano())
			}
			logMu.Lock()
			logTail = append(logTail, sc.Text())
			if len(logTail) > 20 {
				logTail = logTail[1:]
			}
			logMu.Unlock()
		}
	}()
	var addr string
	select {
	case addr = <-api:
	case <-ctx.Done():
		fatal(fmt.Errorf("the server did not start within %s", *budget))
	}

	every := time.Duration(float64(time.Second) * float64(*conns) / float64(*rate))
	var (
		signalled                             atomic.Bool
		ok, closes, refused                   atomic.Int64
		lostBefore, lostAfter, dialBeforeFail atomic.Int64
		wg                                    sync.WaitGroup
		sampleMu                              sync.Mutex
		samples                               []string
	)
	lose := func(writtenAt time.Time, what string) {
		s := stoppedAt.Load()
		if s == 0 || writtenAt.UnixNano() < s {
			lostBefore.Add(1)
		} else {
			lostAfter.Add(1)
		}
		sampleMu.Lock()
		if len(samples) < 10 {
			samples = append(samples, what)
		}
		sampleMu.Unlock()
	}
	start := time.Now()
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := loopclient.Dialer(loopclient.Source(i, *sources), 2*time.Second)
			// Spread the connections' send times over one period.
			next := start.Add(time.Duration(int64(every) * int64(i) / int64(*conns)))
			var c net.Conn
			var br *bufio.Reader
			for ctx.Err() == nil {
				if c == nil {
					var err error
					if c, err = d.DialContext(ctx, "tcp", addr); err != nil {
						if signalled.Load() {
							refused.Add(1)
						} else {
							dialBeforeFail.Add(1)
							sampleMu.Lock()
							if len(samples) < 10 {
								samples = append(samples, "dial before SIGTERM: "+err.Error())
							}
							sampleMu.Unlock()
						}
						return
					}
					br = bufio.NewReaderSize(c, 1024)
				}
				time.Sleep(time.Until(next)) // the schedule, not synchronisation
				next = next.Add(every)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				at := time.Now()
				if _, err := io.WriteString(c, loopclient.PriceRequest); err != nil {
					lose(at, "write: "+err.Error())
					_ = c.Close()
					c = nil
					continue
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					lose(at, "no reply: "+err.Error())
					_ = c.Close()
					c = nil
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					lose(at, fmt.Sprintf("status %d", resp.StatusCode))
				} else {
					ok.Add(1)
				}
				if resp.Close {
					closes.Add(1)
					_ = c.Close()
					c = nil
				}
			}
			if c != nil {
				_ = c.Close()
			}
		}()
	}
	time.Sleep(*before) // the load phase before the signal
	okAtSignal := ok.Load()
	signalled.Store(true)
	sigAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		fatal(err)
	}
	wg.Wait()
	<-logDone
	waitErr := cmd.Wait()
	exitAfter := time.Since(sigAt)

	fmt.Printf("load: %d connections, %d req/s offered, SIGTERM after %s (%d replies by then)\n", *conns, *rate, *before, okAtSignal)
	if s := stoppedAt.Load(); s != 0 {
		fmt.Printf("listener closed %s after SIGTERM; server exited %s after SIGTERM (%v)\n",
			time.Duration(s-sigAt.UnixNano()).Round(time.Millisecond), exitAfter.Round(time.Millisecond), waitErr)
	}
	fmt.Printf("replies: %d ok, %d with Connection: close; %d clients ended by a refused reconnect; %d dials failed before SIGTERM\n",
		ok.Load(), closes.Load(), refused.Load(), dialBeforeFail.Load())
	fmt.Printf("lost: %d written before the listener closed, %d after\n", lostBefore.Load(), lostAfter.Load())
	for _, s := range samples {
		fmt.Println("  e.g.", s)
	}
	pass := lostBefore.Load() == 0 && dialBeforeFail.Load() == 0 && waitErr == nil
	if pass {
		fmt.Println("verdict: PASS (0 requests written before the listener closed were lost; exit 0)")
		return
	}
	fmt.Println("verdict: FAIL")
	logMu.Lock()
	fmt.Fprintln(os.Stderr, strings.Join(logTail, "\n"))
	logMu.Unlock()
	os.Exit(1)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "drainload:", err)
	os.Exit(2)
}
