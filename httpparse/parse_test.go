package httpparse

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// outcome is everything observable about one Parse result, for comparing
// whole feeds with split feeds.
type outcome struct {
	n      int
	status int // 0: accepted, -1: incomplete
	close  bool
	reason string
	req    string
}

func describe(r *Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s path=%q query=%q HTTP/%d.%d cl=%d chunked=%v ka=%v e100=%v host=%q ct=%q\n",
		r.Method, r.Target, r.Path, r.RawQuery, r.Major, r.Minor, r.ContentLength, r.Chunked,
		r.KeepAlive, r.Expect100, r.Host, r.ContentType)
	r.VisitHeaders(func(name, value []byte) bool {
		fmt.Fprintf(&b, "%s=%q\n", name, value)
		return true
	})
	tp, tps := r.Traceparent()
	fmt.Fprintf(&b, "traceparent=%q x%d tracestate x%d", tp, tps, r.Tracestates())
	for i := range MaxTracestateFields {
		fmt.Fprintf(&b, " %q", r.Tracestate(i))
	}
	fmt.Fprintf(&b, "\nbody=%q", r.Body)
	return b.String()
}

func result(p *Parser, n int, err error) outcome {
	var e *Error
	switch {
	case err == nil:
		return outcome{n: n, req: describe(p.Request())}
	case errors.Is(err, ErrIncomplete):
		return outcome{status: -1}
	case errors.As(err, &e):
		return outcome{status: e.Status, close: e.Close, reason: e.Reason}
	default:
		return outcome{status: -2, reason: err.Error()}
	}
}

// feedWhole parses data in one call.
func feedWhole(l Limits, data []byte) outcome {
	p := NewParser(l)
	n, err := p.Parse(data)
	return result(p, n, err)
}

// feedSplit gives data[:k] first, then all of data.
func feedSplit(l Limits, data []byte, k int) outcome {
	p := NewParser(l)
	if n, err := p.Parse(data[:k]); !errors.Is(err, ErrIncomplete) {
		return result(p, n, err)
	}
	n, err := p.Parse(data)
	return result(p, n, err)
}

// feedBytes gives data one more byte at a time, each call on a fresh copy
// so that the parser cannot rely on the old slice.
func feedBytes(l Limits, data []byte) outcome {
	p := NewParser(l)
	for k := 1; k <= len(data); k++ {
		buf := append([]byte(nil), data[:k]...)
		n, err := p.Parse(buf)
		if !errors.Is(err, ErrIncomplete) {
			return result(p, n, err)
		}
	}
	return outcome{status: -1}
}

const (
	hostHdr = "Host: example.com\r\n"
	post    = "POST /p HTTP/1.1\r\n" + hostHdr
	chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
)

type hostileCase struct {
	group  string
	name   string
	in     string
	status int
	close  bool
}

// smallLimits keeps the limit rows short.
var smallLimits = Limits{MaxHeaderBytes: 256, MaxHeaders: 4, MaxTargetBytes: 32, MaxBodyBytes: 16, MaxChunkMetaBytes: 24}

func hostileCases() []hostileCase {
	longName := strings.Repeat("a", 300)
	return []hostileCase{
		// Length and encoding conflicts.
		{"conflict", "cl and te", post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"conflict", "te and cl", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400, true},
		{"conflict", "differing cl", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, true},
		{"conflict", "cl list", post + "Content-Length: 3, 3\r\n\r\nabc", 400, true},
		{"conflict", "cl sign", post + "Content-Length: +3\r\n\r\nabc", 400, true},
		{"conflict", "cl negative", post + "Content-Length: -1\r\n\r\n", 400, true},
		{"conflict", "cl hex", post + "Content-Length: 0x3\r\n\r\nabc", 400, true},
		{"conflict", "cl empty", post + "Content-Length:\r\n\r\n", 400, true},
		{"conflict", "cl overflow", post + "Content-Length: 99999999999999999999\r\n\r\n", 400, true},
		{"conflict", "cl inner space", post + "Content-Length: 1 0\r\n\r\n", 400, true},
		{"conflict", "cl over limit", post + "Content-Length: 65537\r\n\r\n", 413, true},
		{"conflict", "te gzip only", post + "Transfer-Encoding: gzip\r\n\r\n", 400, true},
		{"conflict", "te chunked not final", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400, true},
		{"conflict", "te chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, true},
		{"conflict", "te unknown coding", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, true},
		{"conflict", "te identity", post + "Transfer-Encoding: identity\r\n\r\n", 400, true},
		{"conflict", "te empty", post + "Transfer-Encoding: \r\n\r\n", 400, true},
		{"conflict", "te in http/1.0", "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
		{"conflict", "te with param", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400, true},
		// Chunked abuse.
		{"chunked", "size sign", chunked + "+3\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size 0x prefix", chunked + "0x3\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size leading space", chunked + " 3\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size trailing space", chunked + "3 \r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size empty", chunked + "\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size 17 digits", chunked + "00000000000000003\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "size overflow", chunked + "ffffffffffffffff\r\n", 400, true},
		{"chunked", "size over body limit", chunked + "10001\r\n", 413, true},
		{"chunked", "sum over body limit", chunked + "8000\r\n" + strings.Repeat("a", 0x8000) + "\r\n8001\r\n", 413, true},
		{"chunked", "missing crlf after data", chunked + "3\r\nabcX\r\n0\r\n\r\n", 400, true},
		{"chunked", "lf only after data", chunked + "3\r\nabc\n0\r\n\r\n", 400, true},
		{"chunked", "bare lf size line", chunked + "3\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "bad extension", chunked + "3;=x\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "unterminated quoted ext", chunked + "3;a=\"x\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "extensions too long", chunked + "3;a=" + strings.Repeat("x", 5000) + "\r\nabc\r\n0\r\n\r\n", 400, true},
		{"chunked", "trailers too long", chunked + "0\r\nX: " + strings.Repeat("x", 5000) + "\r\n\r\n", 431, true},
		{"chunked", "trailer obs-fold", chunked + "0\r\nX: a\r\n b\r\n\r\n", 400, true},
		{"chunked", "trailer bad name", chunked + "0\r\nX Y: a\r\n\r\n", 400, true},
		// Header syntax and floods.
		{"header", "space before colon", post + "Content-Length : 3\r\n\r\nabc", 400, true},
		{"header", "tab before colon", post + "X\t: 3\r\n\r\n", 400, true},
		{"header", "empty name", post + ": x\r\n\r\n", 400, true},
		{"header", "no colon", post + "Xyz\r\n\r\n", 400, true},
		{"header", "obs-fold", post + "X: a\r\n b\r\n\r\n", 400, true},
		{"header", "space before first header", "GET / HTTP/1.1\r\n " + hostHdr + "\r\n", 400, true},
		{"header", "nul in value", post + "X: a\x00b\r\n\r\n", 400, true},
		{"header", "cr in value", post + "X: a\rb\r\n\r\n", 400, true},
		{"header", "del in value", post + "X: a\x7fb\r\n\r\n", 400, true},
		{"header", "bare lf header", post + "X: a\n\r\n", 400, true},
		{"header", "bare lf end", post + "X: a\r\n\n", 400, true},
		{"header", "non-token name", post + "X(y): a\r\n\r\n", 400, true},
		{"header", "header section too large", post + "X: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431, true},
		{"header", "too many headers", "GET / HTTP/1.1\r\n" + strings.Repeat("X: a\r\n", 65) + hostHdr + "\r\n", 431, true},
		{"header", "long name", post + longName + ": a\r\n\r\n", 0, false},
		{"header", "expect other", post + "Expect: 200-ok\r\n\r\n", 417, true},
		{"header", "expect list", post + "Expect: 100-continue, x\r\n\r\n", 417, true},
		// Request-line errors.
		{"request-line", "lower method ok", "get / HTTP/1.1\r\n" + hostHdr + "\r\n", 0, false},
		{"request-line", "bad method", "GE(T / HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "double space", "GET  / HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "trailing space", "GET / HTTP/1.1 \r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "tab separator", "GET\t/ HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "missing version", "GET /\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "http/2.0", "GET / HTTP/2.0\r\n" + hostHdr + "\r\n", 505, true},
		{"request-line", "http/1.2", "GET / HTTP/1.2\r\n" + hostHdr + "\r\n", 505, true},
		{"request-line", "http/0.9", "GET / HTTP/0.9\r\n\r\n", 505, true},
		{"request-line", "lowercase version", "GET / http/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "two digit version", "GET / HTTP/1.10\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "target over limit", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\n" + hostHdr + "\r\n", 414, true},
		{"request-line", "asterisk for get", "GET * HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "asterisk for options", "OPTIONS * HTTP/1.1\r\n" + hostHdr + "\r\n", 0, false},
		{"request-line", "authority form", "GET example.com:80 HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "connect", "CONNECT example.com:443 HTTP/1.1\r\n" + hostHdr + "\r\n", 501, true},
		{"request-line", "fragment", "GET /a#b HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "bad pct", "GET /a%zz HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "non-ascii target", "GET /\xc3\xa9 HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "absolute userinfo", "GET http://u@example.com/ HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "absolute empty host", "GET http:///x HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "absolute other scheme", "GET ftp://example.com/ HTTP/1.1\r\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "method too long", strings.Repeat("G", 9000), 501, true},
		{"request-line", "bare lf request line", "GET / HTTP/1.1\n" + hostHdr + "\r\n", 400, true},
		{"request-line", "tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 400, true},
		// Host rules.
		{"host", "missing in 1.1", "GET / HTTP/1.1\r\n\r\n", 400, true},
		{"host", "missing in 1.0 ok", "GET / HTTP/1.0\r\n\r\n", 0, false},
		{"host", "two hosts", "GET / HTTP/1.1\r\n" + hostHdr + hostHdr + "\r\n", 400, true},
		{"host", "two hosts in 1.0", "GET / HTTP/1.0\r\n" + hostHdr + hostHdr + "\r\n", 400, true},
		{"host", "bad host chars", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, true},
		{"host", "host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, true},
		{"host", "empty host ok", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, false},
		// Pipelining and garbage after a valid request.
		{"pipeline", "two requests", "GET /a HTTP/1.1\r\n" + hostHdr + "\r\nGET /b HTTP/1.1\r\n" + hostHdr + "\r\n", 0, false},
		{"pipeline", "garbage after", "GET /a HTTP/1.1\r\n" + hostHdr + "\r\n\x00\x01garbage", 0, false},
		{"pipeline", "body then request", post + "Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n", 0, false},
		{"pipeline", "chunked then junk", chunked + "1\r\na\r\n0\r\n\r\njunk", 0, false},
		{"pipeline", "short body", post + "Content-Length: 5\r\n\r\nabc", -1, false},
		{"pipeline", "only crlf", "\r\n\r\n", -1, false},
	}
}

func TestHostile(t *testing.T) {
	cases := hostileCases()
	if len(cases) < 50 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.group+"/"+tc.name, func(t *testing.T) {
			got := feedWhole(Limits{}, []byte(tc.in))
			if got.status != tc.status || got.close != tc.close {
				t.Fatalf("got status %d close %v (%q), want %d close %v", got.status, got.close, got.reason, tc.status, tc.close)
			}
		})
	}
}

// TestPipelineUntouched checks that bytes after a complete request are
// neither consumed nor modified, and that the next request parses from them.
func TestPipelineUntouched(t *testing.T) {
	in := []byte("POST /a HTTP/1.1\r\n" + hostHdr + "Content-Length: 3\r\n\r\nabc" +
		"POST /b HTTP/1.1\r\n" + hostHdr + "Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n" +
		"GET /c HTTP/1.1\r\n" + hostHdr + "\r\n")
	orig := string(in)
	var p Parser
	var paths, bodies []string
	for off := 0; off < len(in); {
		n, err := p.Parse(in[off:])
		if err != nil {
			t.Fatalf("at %d: %v", off, err)
		}
		r := p.Request()
		paths = append(paths, string(r.Path))
		bodies = append(bodies, string(r.Body))
		off += n
	}
	if string(in) != orig {
		t.Fatal("input modified")
	}
	if got := strings.Join(paths, ","); got != "/a,/b,/c" {
		t.Fatalf("paths %q", got)
	}
	if got := strings.Join(bodies, ","); got != "abc,xy," {
		t.Fatalf("bodies %q", got)
	}
}

func validCases() []string {
	return []string{
		"GET / HTTP/1.1\r\n" + hostHdr + "\r\n",
		"\r\nGET /x?y=1&z HTTP/1.1\r\n" + hostHdr + "Connection: close\r\n\r\n",
		"GET http://example.com:8080/a/b?q HTTP/1.1\r\n" + hostHdr + "\r\n",
		"GET HTTPS://example.com HTTP/1.1\r\n" + hostHdr + "\r\n",
		"GET /a%20b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		post + "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		post + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
		chunked + "3;name;a=b;q=\"x\\\"y\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-A: b\r\n\r\n",
		chunked + "3 ; a = b\r\nabc\r\n0\r\n\r\n",
		post + "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n",
		post + "X-Tab:\tv\t\r\nX-Obs: caf\xc3\xa9\r\nX-Empty:\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n" + hostHdr + "\r\n",
		"GET / HTTP/1.1\r\n" + hostHdr + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n" +
			"TraceState: a=1\r\ntracestate:  b=2 \r\n\r\n",
		"GET / HTTP/1.1\r\n" + hostHdr + "Traceparent: x\r\nTRACEPARENT: y\r\ntracestate:\r\n" +
			"tracestate: 1\r\ntracestate: 2\r\ntracestate: 3\r\ntracestate: 4\r\n\r\n",
	}
}

func TestValid(t *testing.T) {
	for _, in := range validCases() {
		got := feedWhole(Limits{}, []byte(in))
		if got.status != 0 || got.n != len(in) {
			t.Errorf("%q: got %+v", in, got)
		}
	}
}

func TestRequestFields(t *testing.T) {
	in := "POST /api/v1/price?x=1 HTTP/1.1\r\nHost: h:80\r\nContent-Type: application/json\r\n" +
		"Connection: keep-alive, Close\r\nExpect: 100-Continue\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 2\r\n\r\n{}"
	var p Parser
	n, err := p.Parse([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	r := p.Request()
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"method", string(r.Method), "POST"},
		{"target", string(r.Target), "/api/v1/price?x=1"},
		{"path", string(r.Path), "/api/v1/price"},
		{"query", string(r.RawQuery), "x=1"},
		{"version", fmt.Sprint(r.Major, r.Minor), "1 1"},
		{"cl", r.ContentLength, int64(2)},
		{"body", string(r.Body), "{}"},
		{"keepalive", r.KeepAlive, false},
		{"expect100", r.Expect100, true},
		{"host", string(r.Host), "h:80"},
		{"ct", string(r.ContentType), "application/json"},
		{"conn", string(r.Connection), "keep-alive, Close"},
		{"te", r.TransferEncoding == nil, true},
		{"numheaders", r.NumHeaders(), 7},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if v, ok := r.Header("X-a"); !ok || string(v) != "1" {
		t.Errorf("Header(X-a) = %q, %v", v, ok)
	}
	if _, ok := r.Header("missing"); ok {
		t.Error("Header(missing) found")
	}
	if allocs := testing.AllocsPerRun(100, func() { r.Header("content-type") }); allocs != 0 {
		t.Errorf("Header allocates %v", allocs)
	}
}

// checkTraceContext fails unless what the parser noted of the traceparent
// and tracestate fields is what a walk over the fields finds.
func checkTraceContext(t *testing.T, r *Request) {
	t.Helper()
	var parents, states [][]byte
	r.VisitHeaders(func(name, value []byte) bool {
		switch {
		case strings.EqualFold(string(name), "traceparent"):
			parents = append(parents, value)
		case strings.EqualFold(string(name), "tracestate"):
			states = append(states, value)
		}
		return true
	})
	tp, n := r.Traceparent()
	if n != len(parents) || n > 0 && !bytes.Equal(tp, parents[0]) || n == 0 && tp != nil {
		t.Fatalf("traceparent %q x%d, the fields hold %q", tp, n, parents)
	}
	if r.Tracestates() != len(states) {
		t.Fatalf("%d tracestate fields noted, the fields hold %d", r.Tracestates(), len(states))
	}
	for i := range MaxTracestateFields + 1 {
		var want []byte
		if i < min(len(states), MaxTracestateFields) {
			want = states[i]
		}
		if got := r.Tracestate(i); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("tracestate %d: %q, the fields hold %q", i, got, want)
		}
	}
}

func TestTraceContext(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	cases := []struct {
		name    string
		head    string
		parent  string
		parents int
		states  []string // the values Tracestate returns, in order
		nstates int
	}{
		{"none", "X-A: 1\r\n", "", 0, nil, 0},
		{"one of each", "traceparent: " + tp + "\r\ntracestate: a=1\r\n", tp, 1, []string{"a=1"}, 1},
		{"case and whitespace", "TraceParent:\t" + tp + " \r\nTRACESTATE:  a=1 ,b=2\r\n", tp, 1, []string{"a=1 ,b=2"}, 1},
		{"two traceparents", "traceparent: x\r\ntraceparent: y\r\n", "x", 2, nil, 0},
		{"empty values", "traceparent:\r\ntracestate:\r\n", "", 1, []string{""}, 1},
		{"more tracestates than kept", "tracestate: 1\r\ntracestate: 2\r\ntracestate: 3\r\ntracestate: 4\r\ntracestate: 5\r\n",
			"", 0, []string{"1", "2", "3", "4"}, 5},
		{"names that only look alike", "traceparents: x\r\ntracestat: y\r\nx-traceparent: z\r\ntracepArent-: w\r\n", "", 0, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := "GET / HTTP/1.1\r\nHost: h\r\n" + c.head + "\r\n"
			for _, l := range []Limits{{}, smallLimits} {
				if whole, bytewise := feedWhole(l, []byte(in)), feedBytes(l, []byte(in)); whole != bytewise {
					t.Fatalf("whole %+v, byte by byte %+v", whole, bytewise)
				}
			}
			p := NewParser(Limits{})
			if _, err := p.Parse([]byte(in)); err != nil {
				t.Fatal(err)
			}
			r := p.Request()
			checkTraceContext(t, r)
			v, n := r.Traceparent()
			if string(v) != c.parent || n != c.parents {
				t.Errorf("Traceparent() = %q, %d; want %q, %d", v, n, c.parent, c.parents)
			}
			if r.Tracestates() != c.nstates {
				t.Errorf("Tracestates() = %d, want %d", r.Tracestates(), c.nstates)
			}
			for i := range MaxTracestateFields + 1 {
				want := ""
				if i < len(c.states) {
					want = c.states[i]
				}
				if got := string(r.Tracestate(i)); got != want {
					t.Errorf("Tracestate(%d) = %q, want %q", i, got, want)
				}
			}
			// The next request on the parser starts with nothing noted.
			if _, err := p.Parse([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			if v, n := p.Request().Traceparent(); v != nil || n != 0 || p.Request().Tracestates() != 0 {
				t.Errorf("next request: traceparent %q x%d, %d tracestates", v, n, p.Request().Tracestates())
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\n" + hostHdr + "\r\n", true},
		{"GET / HTTP/1.1\r\n" + hostHdr + "Connection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\n" + hostHdr + "Connection: foo\r\nConnection: CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
	}
	for _, tc := range tests {
		var p Parser
		if _, err := p.Parse([]byte(tc.in)); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := p.Request().KeepAlive; got != tc.want {
			t.Errorf("%q: KeepAlive %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
	}{
		{"target at limit", "GET /" + strings.Repeat("a", 31) + " HTTP/1.1\r\n" + hostHdr + "\r\n", 0},
		{"target over limit", "GET /" + strings.Repeat("a", 32) + " HTTP/1.1\r\n" + hostHdr + "\r\n", 414},
		{"headers at count", "GET / HTTP/1.1\r\n" + strings.Repeat("X: a\r\n", 3) + hostHdr + "\r\n", 0},
		{"headers over count", "GET / HTTP/1.1\r\n" + strings.Repeat("X: a\r\n", 4) + hostHdr + "\r\n", 431},
		{"head at bytes", "GET / HTTP/1.1\r\n" + hostHdr + "X: " + strings.Repeat("a", 256-16-19-7) + "\r\n\r\n", 0},
		{"head over bytes", "GET / HTTP/1.1\r\n" + hostHdr + "X: " + strings.Repeat("a", 256-16-19-6) + "\r\n\r\n", 431},
		{"body at limit", post + "Content-Length: 16\r\n\r\n" + strings.Repeat("a", 16), 0},
		{"body over limit", post + "Content-Length: 17\r\n\r\n" + strings.Repeat("a", 17), 413},
		{"chunked at limit", chunked + "8\r\naaaaaaaa\r\n8\r\naaaaaaaa\r\n0\r\n\r\n", 0},
		{"chunked over limit", chunked + "8\r\naaaaaaaa\r\n9\r\naaaaaaaaa\r\n0\r\n\r\n", 413},
		{"meta at limit", chunked + "1;" + strings.Repeat("e", 11) + "\r\na\r\n0\r\nX: " + strings.Repeat("t", 7) + "\r\n\r\n", 0},
		{"meta over limit", chunked + "1;" + strings.Repeat("e", 11) + "\r\na\r\n0\r\nX: " + strings.Repeat("t", 8) + "\r\n\r\n", 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got := feedWhole(smallLimits, in)
			if got.status != tc.status {
				t.Fatalf("status %d (%q), want %d", got.status, got.reason, tc.status)
			}
			if b := feedBytes(smallLimits, in); b != got {
				t.Fatalf("byte by byte %+v, whole %+v", b, got)
			}
		})
	}
}

// TestSplitInvariance feeds every valid and hostile case at every split
// point and byte by byte; the outcome must not change.
func TestSplitInvariance(t *testing.T) {
	var inputs []string
	inputs = append(inputs, validCases()...)
	for _, tc := range hostileCases() {
		inputs = append(inputs, tc.in)
	}
	for _, l := range []Limits{{}, smallLimits} {
		for _, in := range inputs {
			data := []byte(in)
			want := feedWhole(l, data)
			step := 1
			if len(data) > 2000 {
				step = 97 // keep the quadratic part of this test quick
			}
			for k := 0; k < len(data); k += step {
				if got := feedSplit(l, data, k); got != want {
					t.Fatalf("%.60q split at %d: %+v, whole: %+v", in, k, got, want)
				}
			}
			if got := feedBytes(l, data); got != want {
				t.Fatalf("%.60q byte by byte: %+v, whole: %+v", in, got, want)
			}
		}
	}
}

func TestResetAndStickyError(t *testing.T) {
	var p Parser
	bad := []byte("GET / HTTP/3.0\r\n\r\n")
	_, err1 := p.Parse(bad)
	_, err2 := p.Parse([]byte("GET / HTTP/1.1\r\n" + hostHdr + "\r\n"))
	if err1 == nil || err1 != err2 {
		t.Fatalf("error not sticky: %v, %v", err1, err2)
	}
	p.Reset()
	if _, err := p.Parse([]byte("GET / HTTP/1.1\r\n" + hostHdr + "\r\n")); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestHeadersComplete(t *testing.T) {
	in := []byte(post + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
	var p Parser
	head := len(in) - 3
	if _, err := p.Parse(in[:head-1]); !errors.Is(err, ErrIncomplete) || p.HeadersComplete() {
		t.Fatalf("before end of head: %v %v", err, p.HeadersComplete())
	}
	if _, err := p.Parse(in[:head]); !errors.Is(err, ErrIncomplete) || !p.HeadersComplete() {
		t.Fatalf("at end of head: %v %v", err, p.HeadersComplete())
	}
	if r := p.Request(); !r.Expect100 || string(r.Path) != "/p" || r.Body != nil {
		t.Fatalf("head view: %s", describe(r))
	}
	if n, err := p.Parse(in); err != nil || n != len(in) {
		t.Fatalf("complete: %d %v", n, err)
	}
}

// TestBodyBufferReuse checks that the parser's de-chunking buffer is kept
// and reused: after the first request, a chunked body costs no allocation.
func TestBodyBufferReuse(t *testing.T) {
	in := []byte(chunked + "5\r\nhello\r\n0\r\n\r\n")
	var p Parser
	if _, err := p.Parse(in); err != nil {
		t.Fatal(err)
	}
	first := p.Request().Body
	if string(first) != "hello" {
		t.Fatalf("body %q", first)
	}
	if _, err := p.Parse(in); err != nil {
		t.Fatal(err)
	}
	if b := p.Request().Body; &b[0] != &first[0] {
		t.Fatal("second body not in the first one's buffer")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Parse(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("chunked parse allocates %v per run", allocs)
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, in := range validCases() {
		data := []byte(in)
		p := NewParser(Limits{})
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := p.Parse(data); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocs", in, allocs)
		}
	}
}

func TestMisuse(t *testing.T) {
	var p Parser
	in := []byte("GET / HTTP/1.1\r\nHo")
	if _, err := p.Parse(in); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	var e *Error
	if _, err := p.Parse(in[:3]); !errors.As(err, &e) || e.Status != 500 {
		t.Fatalf("shrunk buffer: %v", err)
	}
}
