// Command gnetraw is the ceiling of the benchmarks: a gnet server with the
// same options as pricing-engine (multicore, SO_REUSEPORT, TCP_NODELAY,
// ticker) that answers every request with one fixed reply of the same
// size as pricing-engine's reply to the benchmark request, without
// parsing HTTP or JSON (see scan). Its throughput is what our design could
// reach if parsing, pricing and encoding cost nothing.
//
// It is not a correct HTTP server. --lookup-latency is accepted for a
// uniform command line but only "none" is supported: the limit has no
// lookups.
//
//	gnetraw --addr 127.0.0.1:8000
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
)

// body is pricing-engine's reply to the benchmark request (P-500, NY,
// member), so that the reply has the same size byte for byte.
const body = `{"product_id":"P-500","final_price":52.24,"base_price":49.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live"}`

// replies holds the fixed replies with the current Date header.
type replies struct {
	keepAlive []byte
	close     []byte
}

func newReplies(now time.Time) *replies {
	head := "HTTP/1.1 200 OK\r\nServer: pricing-engine\r\nDate: " + now.UTC().Format(http.TimeFormat) +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	return &replies{
		keepAlive: []byte(head + "\r\n" + body),
		close:     []byte(head + "Connection: close\r\n\r\n" + body),
	}
}

type server struct {
	gnet.BuiltinEventEngine
	cur  atomic.Pointer[replies]
	bufs sync.Pool // *[]byte, output of one OnTraffic
}

var _ gnet.EventHandler = (*server)(nil)

// OnTraffic answers every complete request in the inbound buffer with one
// write.
func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	n, used, closeConn := scan(in)
	if n == 0 {
		if len(in) > maxHeader {
			return gnet.Close
		}
		return gnet.None
	}
	_, _ = c.Discard(used)
	r := s.cur.Load()
	reply := r.keepAlive
	if closeConn {
		reply = r.close
	}
	if n == 1 {
		_, _ = c.Write(reply)
	} else {
		bp := s.bufs.Get().(*[]byte)
		out := (*bp)[:0]
		for range n {
			out = append(out, reply...)
		}
		_, _ = c.Write(out) // gnet copies what it cannot write now
		*bp = out
		s.bufs.Put(bp)
	}
	if closeConn {
		return gnet.Close
	}
	return gnet.None
}

// OnTick refreshes the Date header once a second.
func (s *server) OnTick() (time.Duration, gnet.Action) {
	s.cur.Store(newReplies(time.Now()))
	return time.Second, gnet.None
}

func main() {
	opts, err := ref.ParseFlags("gnetraw", os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if opts.Latency != "none" {
		fmt.Fprintf(os.Stderr, "gnetraw: --lookup-latency %q: only none is supported (the limit has no lookups)\n", opts.Latency)
		os.Exit(2)
	}
	s := &server{}
	s.cur.Store(newReplies(time.Now()))
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	log.Printf("gnetraw listening on %s", opts.Addr)
	err = gnet.Run(s, "tcp://"+opts.Addr,
		gnet.WithMulticore(true),
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(quiet{}),
	)
	log.Fatal(err)
}

// quiet drops gnet's logs.
type quiet struct{}

func (quiet) Debugf(string, ...any) {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	log.Fatalf(format, args...)
}
