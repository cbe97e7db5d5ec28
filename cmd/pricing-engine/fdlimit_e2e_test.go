package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fdLimit is the RLIMIT_NOFILE (soft and hard) the tests below give the
// server: small enough to exhaust with a few hundred connections.
const fdLimit = 256

// startLimited starts the binary with RLIMIT_NOFILE set to fdLimit by the
// shell (ulimit -n sets both the soft and the hard limit).
func startLimited(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := serverBinary(t)
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -n ` + strconv.Itoa(fdLimit) + ` && exec "$0" "$@"`, bin}, args...)...)
	return startCommand(t, cmd)
}

const fdPriceRequest = "POST /api/v1/price HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 66\r\n\r\n" +
	`{"product_id":"P-500","user_location":"NY","is_prime_member":true}`

// openWithRequest dials n connections and writes one price request on
// each, without reading. The kernel completes the handshakes (and queues
// the bytes) whether or not the server has accepted them yet.
func openWithRequest(t *testing.T, api string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", api, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, fdPriceRequest); err != nil {
			t.Fatalf("write on connection %d: %v", i, err)
		}
	}
	return conns
}

// readStatus reads one reply's status code on c within d.
func readStatus(c net.Conn, d time.Duration) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestE2EFDLimitAcceptBacksOff runs the server with a descriptor limit of
// 256 and a connection limit far above it, and opens 400 connections: the
// accepts past the limit fail with EMFILE. The process must stay up, serve
// the connections it holds, count the failures, and accept the waiting
// connections (and answer their requests) once others close.
func TestE2EFDLimitAcceptBacksOff(t *testing.T) {
	p := startLimited(t, append(loopbackArgs, "--max-conns=100000", "--header-timeout=30s")...)
	// A connection limit past the descriptor limit: the acceptor, not
	// the event loops, accepts (gnet's accept would die of EMFILE).
	if rec, ok := p.logRecord("listening"); !ok || fmt.Sprint(rec["accept"]) != "acceptor" {
		t.Fatalf(`"listening" log line: %v, want accept=acceptor`, rec)
	}
	const n = 400
	conns := openWithRequest(t, p.api, n)

	// The first connections were accepted before the limit: served.
	for i := range 50 {
		code, err := readStatus(conns[i], 10*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("connection %d (accepted before the limit): status %d, err %v", i, code, err)
		}
	}
	// Wait for evidence of the exhaustion: the once-per-interval log line.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := p.logRecord("cannot accept connections; backing off, established connections are still served"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accept back-off logged with %d connections under a descriptor limit of %d", n, fdLimit)
		}
		time.Sleep(20 * time.Millisecond) // polling the log; the deadline above bounds it
	}
	select {
	case <-p.exited:
		t.Fatalf("server exited at the descriptor limit: %v", p.exitErr)
	default:
	}
	// An established connection is still served.
	if _, err := io.WriteString(conns[0], fdPriceRequest); err != nil {
		t.Fatal(err)
	}
	if code, err := readStatus(conns[0], 10*time.Second); err != nil || code != 200 {
		t.Fatalf("established connection at the limit: status %d, err %v", code, err)
	}

	// Free descriptors: the connections that waited in the accept queue
	// are accepted and their requests answered.
	for _, c := range conns[1:250] {
		_ = c.Close()
	}
	for i := n - 100; i < n; i++ {
		code, err := readStatus(conns[i], 15*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("connection %d (queued at the limit): status %d, err %v; server counters:\n%s", i, code, err, p.counters())
		}
	}
	// The admin listener (net/http) could not accept either; now it can.
	status, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	failures := metricValue(body, `pricing_accept_errors_total{reason="fd_limit"}`)
	if failures < 1 {
		t.Fatalf(`pricing_accept_errors_total{reason="fd_limit"} = %v, want >= 1`, failures)
	}
	t.Logf("%d connections at RLIMIT_NOFILE %d: %v accepts failed with EMFILE; all served once descriptors freed", n, fdLimit, failures)
}

// TestE2EFDLimitDefaultMaxConns checks that the default --max-conns follows
// the descriptor limit, so that the limit answers 503 before accept can
// fail: at 256 descriptors the default is 128 connections.
func TestE2EFDLimitDefaultMaxConns(t *testing.T) {
	p := startLimited(t, append(loopbackArgs, "--header-timeout=30s")...)
	rec, ok := p.logRecord("listening")
	if !ok {
		t.Fatal(`no "listening" log line`)
	}
	if got := fmt.Sprint(rec["max_conns"]); got != "128" {
		t.Fatalf("max_conns = %s at RLIMIT_NOFILE %d, want 128 (the limit minus 128 of headroom)", got, fdLimit)
	}
	// Under the default limit the event loops accept themselves: the
	// limit leaves room for every other descriptor (server/loopaccept.go).
	if got := fmt.Sprint(rec["accept"]); got != "loops" {
		t.Fatalf("accept = %s at the default connection limit, want loops", got)
	}
	// Dial without writing: a refused connection gets its 503 and EOF
	// (writing first would let the close reset the reply).
	conns := make([]net.Conn, 200)
	for i := range conns {
		c, err := net.DialTimeout("tcp", p.api, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
		defer c.Close()
	}
	codes := make(chan int, len(conns))
	for _, c := range conns {
		go func() {
			// Refused connections answer at once; accepted ones say
			// nothing until asked.
			if code, err := readStatus(c, 2*time.Second); err == nil {
				codes <- code
				return
			}
			if _, err := io.WriteString(c, fdPriceRequest); err != nil {
				codes <- -1
				return
			}
			code, err := readStatus(c, 10*time.Second)
			if err != nil {
				code = -1
			}
			codes <- code
		}()
	}
	served, refused := 0, 0
	for range conns {
		switch code := <-codes; code {
		case 200:
			served++
		case 503:
			refused++
		default:
			t.Errorf("a connection ended with status %d (-1: no reply)", code)
		}
	}
	if served != 128 || refused != 72 {
		t.Fatalf("200 connections: %d served, %d refused with 503; want 128 and 72", served, refused)
	}
	status, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	if v := metricValue(body, `pricing_accept_errors_total{reason="fd_limit"}`); v != 0 {
		t.Fatalf("accept failed %v times with EMFILE under the default connection limit", v)
	}
}

// metricValue returns the value of the exposition line starting with
// series, or -1.
func metricValue(exposition, series string) float64 {
	for line := range strings.SplitSeq(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// counters returns the server's accept, connection and rejection series,
// for a failure message.
func (p *proc) counters() string {
	_, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	var b strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		for _, prefix := range []string{"pricing_accept_errors_total", "pricing_connections_open", "pricing_requests_rejected_total"} {
			if strings.HasPrefix(line, prefix) {
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}
