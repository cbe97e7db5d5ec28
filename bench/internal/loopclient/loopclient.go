// Package loopclient holds what the load generators under bench/cmd share:
// the price request they send, the loopback-only address check, dialing
// from one of several loopback source addresses, and reading one 200
// reply. Everything is safe for concurrent use.
package loopclient

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/loadtest"
)

// PriceRequest is one complete keep-alive price request.
const PriceRequest = "POST /api/v1/price HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 66\r\n\r\n" +
	`{"product_id":"P-500","user_location":"NY","is_prime_member":true}`

// CheckLoopback returns an error unless addr is host:port with a loopback
// IP host: the generators never load anything but this machine.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

// Source returns the i-th of n loopback source addresses, 127.0.0.1 to
// 127.0.0.n in turn (n below 1 counts as 1): one source address reaches
// one server port through at most ~28,000 ephemeral ports.
func Source(i, n int) net.IP {
	return net.IPv4(127, 0, 0, byte(1+i%max(n, 1)))
}

// Dialer dials from src with timeout, binding the source address without
// a port (loadtest.BindNoPort) so that the ephemeral port is chosen per
// destination.
func Dialer(src net.IP, timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: src}, Control: loadtest.BindNoPort}
}

// ReadOK reads one reply from br, which must be a 200 with a
// Content-Length body, and discards the body.
func ReadOK(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("cannot read status line: %w", err)
	}
	if len(status) < 12 || status[9:12] != "200" {
		return fmt.Errorf("unexpected status line %q", status)
	}
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("cannot read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("reply has no Content-Length")
	}
	_, err = br.Discard(length)
	return err
}
