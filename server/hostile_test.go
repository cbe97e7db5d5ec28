package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostileCase is raw bytes sent to the running server in one write, the
// exact statuses of the replies expected (in order) and whether the
// connection stays open afterwards.
type hostileCase struct {
	name      string
	raw       string
	want      []int
	open      bool
	ambiguous bool // ambiguous framing or a smuggling attempt
}

const validBody = `{"product_id":"P-1","user_location":"NY"}` // 41 bytes

func post(headers, body string) string {
	return "POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n" + body
}

func get(target, headers string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n"
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

func hostileCases() []hostileCase {
	cl := "Content-Length: 41\r\n"
	te := "Transfer-Encoding: chunked\r\n"
	chunked := chunk(validBody[:20]) + chunk(validBody[20:]) + "0\r\n\r\n"
	big := strings.Repeat("x", 40<<10)
	return []hostileCase{
		// Length and encoding conflicts (RFC 9112 section 6).
		{name: "CL then TE", raw: post(cl+te, chunked), want: []int{400}, ambiguous: true},
		{name: "TE then CL", raw: post(te+cl, chunked), want: []int{400}, ambiguous: true},
		{name: "CL.TE smuggle", raw: post("Content-Length: 6\r\n"+te, "0\r\n\r\nG"), want: []int{400}, ambiguous: true},
		{name: "two differing CL", raw: post(cl+"Content-Length: 40\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "two equal CL", raw: post(cl+cl, validBody), want: []int{200}, open: true, ambiguous: true},
		{name: "CL list", raw: post("Content-Length: 41, 41\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL plus sign", raw: post("Content-Length: +41\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL negative", raw: post("Content-Length: -1\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL hex", raw: post("Content-Length: 0x29\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL inner space", raw: post("Content-Length: 4 1\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL overflow", raw: post("Content-Length: 99999999999999999999999\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "CL over body limit", raw: post("Content-Length: 70000\r\n", validBody), want: []int{413}},
		// The body's rest starts with '"', which cannot begin a method.
		// (A rest starting with token characters and no line end waits
		// for the header timeout: httpparse judges the method at its SP.)
		{name: "CL shorter than body", raw: post("Content-Length: 12\r\n", validBody), want: []int{400, 400}, ambiguous: true},
		{name: "TE gzip then chunked", raw: post("Transfer-Encoding: gzip, chunked\r\n", chunked), want: []int{501}, ambiguous: true},
		{name: "TE chunked not last", raw: post("Transfer-Encoding: chunked, gzip\r\n", chunked), want: []int{400}, ambiguous: true},
		{name: "TE chunked twice", raw: post("Transfer-Encoding: chunked, chunked\r\n", chunked), want: []int{400}, ambiguous: true},
		{name: "TE two fields", raw: post(te+te, chunked), want: []int{400}, ambiguous: true},
		{name: "TE identity", raw: post("Transfer-Encoding: identity\r\n", validBody), want: []int{400}, ambiguous: true},
		{name: "TE space before colon", raw: post("Transfer-Encoding : chunked\r\n", chunked), want: []int{400}, ambiguous: true},
		{name: "TE in HTTP/1.0", raw: "POST /api/v1/price HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, want: []int{400}, ambiguous: true},
		{name: "TE mixed case", raw: post("Transfer-Encoding: ChUnKeD\r\n", chunked), want: []int{200}, open: true, ambiguous: true},

		// Chunked abuse (RFC 9112 section 7.1).
		{name: "chunked ok", raw: post(te, chunked), want: []int{200}, open: true},
		{name: "chunk size sign", raw: post(te, "+29\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk size overflow", raw: post(te, "fffffffffffffffff\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk size space", raw: post(te, "29 \r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk size not hex", raw: post(te, "2g\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk data overrun", raw: post(te, "5\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk bare LF", raw: post(te, "29\n"+validBody+"\n0\n\n"), want: []int{400}, ambiguous: true},
		{name: "chunk extension ok", raw: post(te, "29;a=b;c=\"d\"\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{200}, open: true},
		{name: "chunk extension bad", raw: post(te, "29;=\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}, ambiguous: true},
		{name: "chunk extensions flood", raw: post(te, "29;a="+strings.Repeat("b", 5000)+"\r\n"+validBody+"\r\n0\r\n\r\n"), want: []int{400}},
		{name: "trailers ok", raw: post(te, chunk(validBody)+"0\r\nX-T: 1\r\n\r\n"), want: []int{200}, open: true},
		{name: "trailers flood", raw: post(te, chunk(validBody)+"0\r\nX-T: "+strings.Repeat("t", 5000)+"\r\n\r\n"), want: []int{431}},
		{name: "chunked over body limit", raw: post(te, chunk(big)+chunk(big)+"0\r\n\r\n"), want: []int{413}},

		// Header floods (RFC 6585 section 5).
		{name: "too many fields", raw: get("/healthz", strings.Repeat("X-A: 1\r\n", 70)), want: []int{431}},
		{name: "field too large", raw: get("/healthz", "X-A: "+strings.Repeat("a", 9000)+"\r\n"), want: []int{431}},
		{name: "many fields within limits", raw: get("/healthz", strings.Repeat("X-A: 1\r\n", 60)), want: []int{200}, open: true},

		// Request lines and versions (RFC 9112 sections 2, 3).
		{name: "double space", raw: "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "trailing space", raw: "GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "tab separator", raw: "GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "lowercase version", raw: "GET /healthz http/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "HTTP/2.0", raw: "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", want: []int{505}},
		{name: "HTTP/1.2", raw: "GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", want: []int{505}},
		{name: "HTTP/0.9", raw: "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", want: []int{505}},
		{name: "two-digit minor", raw: "GET /healthz HTTP/1.10\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "no version", raw: "GET /healthz\r\n\r\n", want: []int{400}},
		{name: "method not a token", raw: "G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "CONNECT", raw: "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", want: []int{501}},
		{name: "unknown method", raw: "FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{405}, open: true},
		{name: "lowercase method", raw: "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{405}, open: true},
		{name: "fragment in target", raw: "GET /healthz#x HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "bad pct-encoding", raw: "GET /he%zzalthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "non-ASCII target", raw: "GET /h\xffealthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "asterisk with GET", raw: "GET * HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "absolute-form", raw: "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{200}, open: true},
		{name: "absolute-form userinfo", raw: "GET http://u@x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "absolute-form ftp", raw: "GET ftp://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400}},
		{name: "target too long", raw: "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{414}},
		{name: "bare LF lines", raw: "GET /healthz HTTP/1.1\nHost: x\n\n", want: []int{400}},
		{name: "leading empty lines", raw: "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{200}, open: true},
		{name: "binary garbage", raw: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", want: []int{400}},

		// Host (RFC 9112 section 3.2, RFC 9110 section 7.2).
		{name: "HTTP/1.1 without Host", raw: "GET /healthz HTTP/1.1\r\n\r\n", want: []int{400}},
		{name: "two Host", raw: "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", want: []int{400}},
		{name: "Host with space", raw: "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", want: []int{400}},
		{name: "Host with slash", raw: "GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n", want: []int{400}},
		{name: "HTTP/1.0 without Host", raw: "GET /healthz HTTP/1.0\r\n\r\n", want: []int{200}},

		// Field syntax (RFC 9112 section 5, RFC 9110 section 5.5).
		{name: "obs-fold", raw: get("/healthz", "X-A: 1\r\n 2\r\n"), want: []int{400}},
		{name: "space before first field", raw: "GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", want: []int{400}},
		{name: "space before colon", raw: "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", want: []int{400}},
		{name: "NUL in value", raw: get("/healthz", "X-A: a\x00b\r\n"), want: []int{400}},
		{name: "CR in value", raw: get("/healthz", "X-A: a\rb\r\n"), want: []int{400}},
		{name: "empty field name", raw: get("/healthz", ": x\r\n"), want: []int{400}},
		{name: "field name not a token", raw: get("/healthz", "X(A): 1\r\n"), want: []int{400}},
		{name: "obs-text in value", raw: get("/healthz", "X-A: caf\xe9\r\n"), want: []int{200}, open: true},

		// Expect (RFC 9110 section 10.1.1).
		{name: "unknown expectation", raw: post("Expect: teapot\r\n"+cl, validBody), want: []int{417}},
		{name: "100-continue in HTTP/1.0 ignored", raw: "POST /api/v1/price HTTP/1.0\r\nExpect: 100-continue\r\n" + cl + "\r\n" + validBody, want: []int{200}},

		// Pipelining: valid requests answered, garbage after them 400 + close.
		{name: "garbage after valid", raw: post(cl, validBody) + "GARBAGE\r\n\r\n", want: []int{200, 400}, ambiguous: true},
		{name: "binary after valid", raw: get("/healthz", "") + "\x00\x01\x02", want: []int{200, 400}, ambiguous: true},
		{name: "three valid pipelined", raw: post(cl, validBody) + get("/healthz", "") + post(te, chunked), want: []int{200, 200, 200}, open: true},
		{name: "GET with body then request", raw: get("/healthz", "Content-Length: 5\r\n") + "hello" + get("/healthz", ""), want: []int{200, 200}, open: true, ambiguous: true},
		{name: "Connection close then more", raw: get("/healthz", "Connection: close\r\n") + get("/healthz", ""), want: []int{200}, ambiguous: true},
		{name: "HTTP/1.0 then more", raw: "GET /healthz HTTP/1.0\r\n\r\n" + get("/healthz", ""), want: []int{200}, ambiguous: true},
	}
}

// TestHostileRequests sends each case on a fresh connection and checks the
// exact replies and what becomes of the connection. After the expected
// replies there must be nothing but EOF (closed) or the reply to a probe
// (open): a server that answered one request twice, or read a second
// request out of the first one's body, fails here. The check runs for every
// case; the ones marked ambiguous are the framing conflicts it is for.
func TestHostileRequests(t *testing.T) {
	ts := startServer(t, serverOpts{})
	cases := hostileCases()
	ambiguous := 0
	for _, tc := range cases {
		if tc.ambiguous {
			ambiguous++
		}
	}
	if len(cases) < 50 || ambiguous < 20 {
		t.Fatalf("only %d hostile cases, %d of them ambiguous framing", len(cases), ambiguous)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			br := bufio.NewReader(c)
			go func() { _, _ = io.WriteString(c, tc.raw) }() // may fail once the server closes
			for i, want := range tc.want {
				r, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				body := bodyOf(t, r)
				if r.StatusCode != want {
					t.Fatalf("reply %d: status %d, want %d (%s)", i, r.StatusCode, want, body)
				}
				if want >= 400 && want != 404 && want != 405 && !strings.HasPrefix(body, `{"detail":`) {
					t.Errorf("reply %d: error body %q", i, body)
				}
				last := i == len(tc.want)-1
				if last && r.Close == tc.open {
					t.Errorf("reply %d: Connection: close = %v, want %v", i, r.Close, !tc.open)
				}
			}
			if !tc.open {
				if rest := readUntilEOF(t, c, br); len(rest) > 0 {
					t.Fatalf("bytes after the last reply (request answered twice?): %.200q", rest)
				}
				return
			}
			// Open: the next reply must be the probe's, nothing smuggled.
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			r, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if body := bodyOf(t, r); r.StatusCode != 200 || body != "ready\n" {
				t.Fatalf("probe answered by another reply (smuggled request?): %d %q", r.StatusCode, body)
			}
		})
	}
}
