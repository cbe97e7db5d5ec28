package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pricing-engine/pricing-engine/server"
)

// TestPipelinersDoNotMonopoliseTheLoop runs 8 clients that pipeline price
// requests as fast as the server takes them (and read the replies) on a
// server with one event loop, and probes it 31 times with a single request
// on another connection, counting the price requests the server answered
// between each probe's send and its reply: the work the probe waited
// behind. One turn of a connection serves at most 64 requests, a
// connection that becomes readable while others are queued at most 16, and
// the pipeliners wait in the loop's run queue while a readable connection
// is served (fair.go), so a probe waits for the turn under way, perhaps
// one more, and the first requests of the pipeliners readable with it:
// 2 x 64 + 8 x 16 = 256 (measured medians 16-82). Serving each pipeliner's
// 16 KiB read at once, as gnet does by itself, puts a probe behind a round
// of 8 x 86 requests (measured medians 807-1,598 on the code before the run
// queue).
func TestPipelinersDoNotMonopoliseTheLoop(t *testing.T) {
	ts := startServer(t, serverOpts{cfg: server.Config{Loops: 1}})
	const heavy, batch, probes = 8, 256, 31
	req := priceReq(`{"product_id": "P-123", "user_location": "NY", "is_prime_member": true}`)

	obs := ts.mset.Request("POST", "/api/v1/price", 200).(prometheus.Metric)
	served := func() int {
		var m dto.Metric
		if err := obs.Write(&m); err != nil {
			t.Fatal(err)
		}
		return int(m.GetHistogram().GetSampleCount())
	}

	normal := dial(t, ts.addr)
	nbr := bufio.NewReader(normal)
	exchange(t, normal, nbr, req, 1) // connected and served before the load

	done := make(chan struct{})
	var wg sync.WaitGroup
	raw := []byte(strings.Repeat(req, batch))
	var conns []net.Conn
	for range heavy {
		c := dial(t, ts.addr)
		conns = append(conns, c)
		wg.Add(2)
		go func() { // bounded: at most 400 batches, stops when the probes are done
			defer wg.Done()
			for range 400 {
				select {
				case <-done:
					return
				default:
				}
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(raw); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, c) // until the test closes c
		}()
	}
	defer func() {
		close(done)
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}()

	// The pipeliners' load flows (evidence: replies counted).
	deadline := time.Now().Add(10 * time.Second)
	for served() < 1+heavy*batch {
		if time.Now().After(deadline) {
			t.Fatalf("the pipelining clients were not served: %d replies", served())
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}

	ahead := make([]int, 0, probes)
	for range probes {
		before := served()
		exchange(t, normal, nbr, req, 1)
		ahead = append(ahead, served()-before-1)
	}
	if served() >= 1+heavy*400*batch {
		t.Fatal("the pipeliners finished before the probes: nothing was measured")
	}
	slices.Sort(ahead)
	median := ahead[len(ahead)/2]
	t.Logf("price requests answered while a probe waited: median %d, min %d, max %d", median, ahead[0], ahead[len(ahead)-1])
	if limit := 2*64 + heavy*16; median >= limit {
		t.Fatalf("a probe waited behind a median of %d requests of %d pipelining connections, want < %d", median, heavy, limit)
	}
}

// TestNonReaderIsPausedNotClosed writes pipelined requests on a connection
// that never reads its replies: once its output passes the bound the
// server stops reading it, so the client's writes stall (TCP flow control)
// and the connection stays open; it is not closed for flooding its input
// (input_limit), which is what happens when reading goes on, nor answered
// 408 because the rest of a request waits unread in the kernel. Another
// client is served meanwhile.
func TestNonReaderIsPausedNotClosed(t *testing.T) {
	cfg := server.Config{Loops: 1, HeaderTimeout: 200 * time.Millisecond, TickInterval: 20 * time.Millisecond}
	ts := startServer(t, serverOpts{cfg: cfg})
	c := smallRecvDial(t, ts.addr)
	if err := c.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	// Eight requests a write (within one turn, so that the connection is
	// mostly not parked and reading is paused by the output bound), split
	// mid-request so that the server holds partial requests too.
	chunk := strings.Repeat(priceReq(`{"product_id": "P-123", "user_location": "NY"}`), 8)
	chunk = chunk[len(chunk)/3:] + chunk[:len(chunk)/3]
	if _, err := io.WriteString(c, chunk[len(chunk)-len(chunk)/3:]); err != nil {
		t.Fatal(err)
	}
	writeStalls := func() bool {
		for range 20000 { // bounded: 20,000 x 1.5 KB, far past every buffer
			_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := io.WriteString(c, chunk)
			if err == nil {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return true
			}
			t.Fatalf("the server closed a connection it should only stop reading: %v (input_limit %v)",
				err, metricValue(t, ts, rejected("input_limit")))
		}
		return false
	}
	if !writeStalls() {
		t.Fatal("the server kept reading a client that does not read its replies")
	}

	// Positive evidence that the header timeout has been checked since:
	// a client opened now that sends half a request gets its 408.
	tr := dial(t, ts.addr)
	trBr := bufio.NewReader(tr)
	if _, err := io.WriteString(tr, "GET /healthz HTTP/1.1\r\nHo"); err != nil {
		t.Fatal(err)
	}
	_ = tr.SetReadDeadline(time.Now().Add(10 * time.Second))
	r, err := http.ReadResponse(trBr, nil)
	if err != nil || r.StatusCode != 408 {
		t.Fatalf("trickling client: %v, %v; want a 408", r, err)
	}

	// Still open and still not read: the next write stalls again.
	if !writeStalls() {
		t.Fatal("the server resumed reading a client that does not read its replies")
	}
	for _, reason := range []string{"input_limit", "memory_budget"} {
		if v := metricValue(t, ts, rejected(reason)); v != 0 {
			t.Errorf("rejected{%s} = %v, want 0", reason, v)
		}
	}
	if v := metricValue(t, ts, rejected("timeout")); v != 1 {
		t.Errorf("rejected{timeout} = %v, want 1 (the trickling client only)", v)
	}

	// The loop serves others meanwhile.
	c2 := dial(t, ts.addr)
	if r := exchange(t, c2, bufio.NewReader(c2), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1)[0]; r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
}
