package server_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/server"
)

const goodPrice = `{"product_id":"P-100","user_location":"NY"}`

// TestAcceptModeFollowsDescriptorLimit: under the default connection
// limit the event loops accept; a limit beyond what the descriptor limit
// allows hands accepting to the acceptor, which survives EMFILE. Both
// serve.
func TestAcceptModeFollowsDescriptorLimit(t *testing.T) {
	soft, _, err := server.FDLimit()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		maxConns int
		want     string
	}{
		{"default limit", 0, "accept=loops"},
		{"limit past the descriptors", int(min(soft, 1<<40)) + 1, "accept=acceptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			ts := startServer(t, serverOpts{cfg: server.Config{MaxConns: tc.maxConns}, log: &log})
			if !strings.Contains(log.String(), tc.want) {
				t.Fatalf("log has no %q:\n%s", tc.want, log.String())
			}
			c := dial(t, ts.addr)
			defer c.Close()
			rs := exchange(t, c, bufio.NewReader(c), priceReq(goodPrice), 1)
			if rs[0].StatusCode != 200 {
				t.Fatalf("status %d", rs[0].StatusCode)
			}
		})
	}
}

// TestLoopAcceptStopKeepsServing: when a drain stops the loops' accept,
// connections already open (and those that arrived just before) are
// served to the end, and new ones are refused while the loops still run.
func TestLoopAcceptStopKeepsServing(t *testing.T) {
	var log syncBuffer
	ts := startServer(t, serverOpts{cfg: server.Config{DrainIdleGrace: 10 * time.Second}, log: &log})
	if !strings.Contains(log.String(), "accept=loops") {
		t.Fatalf("the loops do not accept:\n%s", log.String())
	}
	held := dial(t, ts.addr)
	defer held.Close()
	hbr := bufio.NewReader(held)
	if rs := exchange(t, held, hbr, priceReq(goodPrice), 1); rs[0].StatusCode != 200 {
		t.Fatalf("status %d", rs[0].StatusCode)
	}
	// Connections whose request is written just before the drain.
	late := make([]net.Conn, 20)
	for i := range late {
		late[i] = dial(t, ts.addr)
		defer late[i].Close()
		if _, err := late[i].Write([]byte(priceReq(goodPrice))); err != nil {
			t.Fatal(err)
		}
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	// The port closes (DrainDelay is 0): a dial is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ts.addr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial after the drain started: %v, want connection refused", err)
			}
			break
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the API port still accepts 10 s into the drain")
		}
		time.Sleep(5 * time.Millisecond) // polling the port; the deadline above bounds it
	}
	for i, c := range late {
		rs := exchange(t, c, bufio.NewReader(c), "", 1)
		if rs[0].StatusCode != 200 {
			t.Fatalf("late connection %d: status %d", i, rs[0].StatusCode)
		}
		_ = c.Close()
	}
	// The held connection is still served, and closed after its reply.
	rs := exchange(t, held, hbr, priceReq(goodPrice), 1)
	if rs[0].StatusCode != 200 || !rs[0].Close {
		t.Fatalf("held connection during the drain: status %d, close %v", rs[0].StatusCode, rs[0].Close)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
