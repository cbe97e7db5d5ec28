package local

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFleetE2EFrontProxyAgreement sends request framings that front proxies
// and servers have disagreed about to HAProxy in front of the engine. Each
// case carries a second request ("GET /smuggled-...", answered 404) where
// one reading of the framing would see only body bytes. Whatever each side
// decides, they must decide the same: the engine never replies to more
// requests than HAProxy sent it (a request hidden in a body would), it
// answers the smuggled GET only when the client receives that answer, the
// client gets one reply per request HAProxy parsed, and a well-formed
// request afterwards, on a connection HAProxy may pool with the earlier
// ones, gets its own correct reply.
func TestFleetE2EFrontProxyAgreement(t *testing.T) {
	// One replica: every pooled server connection HAProxy reuses leads to
	// the same engine, which is where left-over bytes would poison the
	// next request.
	f := startFleetEnv(t, 1, []string{"FLEET_DRAIN_DELAY=500ms"})
	front := fmt.Sprintf("127.0.0.1:%d", f.front)
	const body = `{"product_id":"P-123","user_location":"NY","is_prime_member":false}`
	smuggled := func(name string) string {
		return "GET /smuggled-" + name + " HTTP/1.1\r\nHost: fleet\r\n\r\n"
	}
	head := "POST /api/v1/price HTTP/1.1\r\nHost: fleet\r\nContent-Type: application/json\r\n"
	chunked := func(body string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) }

	cases := []struct{ name, raw string }{
		{"cl-te", head + fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len("0\r\n\r\n"+smuggled("cl-te"))) +
			"0\r\n\r\n" + smuggled("cl-te")},
		{"te-cl", head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunked(smuggled("te-cl"))},
		{"te-gzip", head + fmt.Sprintf("Transfer-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(body)) + body + smuggled("te-gzip")},
		{"te-gzip-chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(body) + smuggled("te-gzip-chunked")},
		{"te-identity", head + fmt.Sprintf("Transfer-Encoding: identity\r\nContent-Length: %d\r\n\r\n", len(body)) + body + smuggled("te-identity")},
		{"te-chunked-twice", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body) + smuggled("te-chunked-twice")},
		{"te-xchunked", head + fmt.Sprintf("Transfer-Encoding: xchunked\r\nContent-Length: %d\r\n\r\n", len(body)) + body + smuggled("te-xchunked")},
		{"te-space-before-colon", head + fmt.Sprintf("Transfer-Encoding : chunked\r\nContent-Length: %d\r\n\r\n", len(body)) + body + smuggled("te-space")},
		{"te-obs-fold", head + fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", len(body)) + body + smuggled("te-fold")},
		{"two-content-lengths", head + fmt.Sprintf("Content-Length: %d\r\nContent-Length: %d\r\n\r\n", len(body), len(body)+len(smuggled("two-cl"))) +
			body + smuggled("two-cl")},
		{"content-length-list", head + fmt.Sprintf("Content-Length: %d, %d\r\n\r\n", len(body), len(body)+len(smuggled("cl-list"))) +
			body + smuggled("cl-list")},
		{"content-length-plus", head + fmt.Sprintf("Content-Length: +%d\r\n\r\n", len(body)) + body + smuggled("cl-plus")},
		{"http10-te", strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			chunked(body) + smuggled("http10-te")},
		{"http10-cl-te", strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + fmt.Sprintf("Connection: keep-alive\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len("0\r\n\r\n"+smuggled("http10-cl-te"))) +
			"0\r\n\r\n" + smuggled("http10-cl-te")},
		{"chunk-size-overflow", head + "Transfer-Encoding: chunked\r\n\r\n" + "10000000000000044\r\n" + body + "\r\n0\r\n\r\n" + smuggled("chunk-overflow")},
		{"chunk-lf-only", head + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\n%s\n0\n\n", len(body), body) + smuggled("chunk-lf")},
		// The control: a well-formed request followed by a pipelined one.
		{"control-pipelined", head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body + smuggled("control")},
	}
	probe := func() string {
		status, reply, err := price(f.client, f.frontURL(), body)
		if err != nil {
			return "error: " + err.Error()
		}
		if status != 200 || !strings.Contains(string(reply), `"product_id":"P-123"`) || !strings.Contains(string(reply), `"base_price":52.99`) {
			return fmt.Sprintf("status %d: %s", status, reply)
		}
		return ""
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st0, replies0 := f.mustStats(), f.totalReplies()
			statuses, err := exchange(front, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			client404 := int64(0)
			for _, r := range statuses {
				if r.status == 404 {
					client404++
				}
			}
			// The counters settle after the replies: wait until they
			// agree (bounded), then judge what was seen.
			var forwarded, parsed, engine, engine404 int64
			waitFor(2*time.Second, func() bool {
				st1, replies1 := f.mustStats(), f.totalReplies()
				forwarded = st1["pricing/BACKEND"].ReqTot - st0["pricing/BACKEND"].ReqTot
				parsed = st1["api/FRONTEND"].ReqTot - st0["api/FRONTEND"].ReqTot
				engine = replies1["all"] - replies0["all"]
				engine404 = replies1["404"] - replies0["404"]
				return engine <= forwarded && engine404 == client404 && parsed == int64(len(statuses))
			})
			verdict := "forwarded"
			switch {
			case forwarded == 0:
				verdict = "refused by haproxy"
			case engine == 0:
				verdict = "haproxy aborted the forward"
			case forwarded > engine:
				verdict = "forwarded (and retried)"
			}
			t.Logf("%-22s client got %v; haproxy parsed %d request(s), sent %d; engine replied %d: %s",
				tc.name, statuses, parsed, forwarded, engine, verdict)
			// HAProxy's count includes retries and forwards it aborted
			// (a body found invalid after the head was sent), so the
			// engine may reply to fewer, never to more: a reply to a
			// request HAProxy did not send is a request smuggled in a
			// body.
			if engine > forwarded {
				t.Errorf("the engine replied to %d request(s) but haproxy sent %d: the two read the framing differently", engine, forwarded)
			}
			// The smuggled GET /smuggled-... answers 404: the engine may
			// answer it only when the client receives that answer.
			if engine404 != client404 {
				t.Errorf("the engine answered %d request(s) with 404 and the client received %d: a smuggled request reached the engine", engine404, client404)
			}
			if parsed != int64(len(statuses)) {
				t.Errorf("haproxy parsed %d request(s) but the client got %d replies", parsed, len(statuses))
			}
			// The engine's errors are JSON (checked when the engine
			// replied). HAProxy 2.6 answers requests it cannot parse with
			// its built-in HTML pages whatever the errorfile settings
			// (haproxy/haproxy#3032, fixed in 3.2).
			for _, r := range statuses {
				if engine > 0 && r.status >= 400 && (r.contentType != "application/json" || !strings.HasPrefix(r.body, `{"detail":`)) {
					t.Errorf("error reply %d has Content-Type %q and body %q, want a JSON detail", r.status, r.contentType, r.body)
				}
			}
			if msg := probe(); msg != "" {
				t.Errorf("a well-formed request after the case got the wrong reply: %s", msg)
			}
		})
	}
}

// exchange writes raw to addr, half-closes, and reads replies until the
// connection closes (or 3 s pass), returning each reply's status code and
// body.
func exchange(addr, raw string) ([]reply, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, fmt.Errorf("cannot write the request: %w", err)
	}
	// Half-close: HAProxy answers what it has and then closes, so the
	// read below ends on evidence rather than on the deadline.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return nil, err
	}
	var statuses []reply
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if len(statuses) == 0 && !isClosed(err) {
				return nil, fmt.Errorf("cannot read a reply: %w", err)
			}
			return statuses, nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cannot read a reply's body: %w", err)
		}
		statuses = append(statuses, reply{resp.StatusCode, resp.Header.Get("Content-Type"), string(body)})
	}
}

// reply is one reply read by exchange.
type reply struct {
	status      int
	contentType string
	body        string
}

func (r reply) String() string {
	body := strings.Join(strings.Fields(r.body), " ")
	if len(body) > 70 {
		body = body[:70] + "..."
	}
	return fmt.Sprintf("%d %s", r.status, body)
}

func isClosed(err error) bool {
	return err == io.EOF || err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "connection reset")
}
