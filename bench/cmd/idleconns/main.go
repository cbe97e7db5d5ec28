// Command idleconns opens many keep-alive connections to a server, sends
// one price request on each and reads its reply, then holds them all idle
// so that the server's memory per connection can be read from
// /proc/PID/status. It is the client side of the "idle connections"
// benchmark (see bench/cmd/benchrun).
//
//	idleconns --addr 127.0.0.1:8000 --conns 19000 --sources 4 --hold 60s
//
// Connections are opened from --sources loopback addresses (127.0.0.1,
// 127.0.0.2, ...) in turn, since one source address reaches one server
// port through at most ~28k ephemeral ports. When every connection has
// been tried it prints one line
//
//	ready OPEN FAILED
//
// and holds the open connections until stdin reaches EOF or --hold
// passes. It exits 1 if any connection failed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/loopclient"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address (loopback)")
	conns := flag.Int("conns", 1000, "connections to open")
	sources := flag.Int("sources", 1, "loopback source addresses 127.0.0.1..127.0.0.N to connect from")
	workers := flag.Int("workers", 64, "connections being opened at once")
	hold := flag.Duration("hold", time.Minute, "longest time to hold the connections")
	timeout := flag.Duration("timeout", 10*time.Second, "bound on opening one connection and reading its reply")
	flag.Parse()
	if *sources < 1 || *sources > 254 || *conns < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "idleconns: --conns, --workers must be >= 1 and --sources within 1..254")
		os.Exit(2)
	}

	open := make([]net.Conn, *conns)
	var failed atomic.Int64
	var firstErr atomic.Value
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *conns {
					return
				}
				src := loopclient.Source(i, *sources)
				c, err := openOne(*addr, src, *timeout)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				open[i] = c
			}
		}()
	}
	wg.Wait()
	n := *conns - int(failed.Load())
	fmt.Printf("ready %d %d\n", n, failed.Load())
	if err, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(os.Stderr, "idleconns: first failure: %v\n", err)
	}

	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-eof:
	case <-time.After(*hold):
	}
	for _, c := range open {
		if c != nil {
			_ = c.Close()
		}
	}
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// openOne connects from src, sends the request and reads one reply.
func openOne(addr string, src net.IP, timeout time.Duration) (net.Conn, error) {
	d := loopclient.Dialer(src, timeout)
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, loopclient.PriceRequest); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("cannot send request: %w", err)
	}
	// The reader is dropped afterwards: the server sends nothing more on an
	// idle connection.
	if err := loopclient.ReadOK(bufio.NewReaderSize(c, 512)); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
