package httpparse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func addSeeds(f *testing.F, add func(data []byte)) {
	for _, in := range validCases() {
		add([]byte(in))
	}
	for _, tc := range hostileCases() {
		if len(tc.in) <= 4096 {
			add([]byte(tc.in))
		}
	}
}

// FuzzParse checks that Parse never panics, that a complete request's views
// lie inside the input, and that the outcome does not depend on how the
// bytes are split. A complete request is followed by a second Parse of the
// remaining bytes (pipelining).
func FuzzParse(f *testing.F) {
	addSeeds(f, func(data []byte) { f.Add(data, uint16(len(data)/2), false) })
	f.Fuzz(func(t *testing.T, data []byte, split uint16, small bool) {
		l := Limits{}
		if small {
			l = smallLimits
		}
		want := feedWhole(l, data)
		if want.status == 0 && (want.n <= 0 || want.n > len(data)) {
			t.Fatalf("n = %d for %d bytes", want.n, len(data))
		}
		if want.status > 0 && want.status < 400 {
			t.Fatalf("error status %d", want.status)
		}
		if len(data) > 0 {
			if got := feedSplit(l, data, int(split)%len(data)); got != want {
				t.Fatalf("split at %d: %+v, whole: %+v", int(split)%len(data), got, want)
			}
		}
		if len(data) <= 2048 {
			if got := feedBytes(l, data); got != want {
				t.Fatalf("byte by byte: %+v, whole: %+v", got, want)
			}
		}
		if want.status == 0 {
			p := NewParser(l)
			if _, err := p.Parse(data); err != nil {
				t.Fatal(err)
			}
			checkViews(t, p.Request(), data, p.body)
			checkTraceContext(t, p.Request())
			_, _ = p.Parse(data[want.n:])
		}
	})
}

// checkViews fails unless every view of r lies inside data (or, for a
// chunked body, inside the parser's body buffer).
func checkViews(t *testing.T, r *Request, data, body []byte) {
	t.Helper()
	inside := func(name string, v, in []byte) {
		if len(v) == 0 {
			return
		}
		base := &in[:cap(in)][0]
		start := &v[0]
		end := &v[len(v)-1]
		if !sameRange(in[:cap(in)], start, end, base) {
			t.Fatalf("%s view not inside its buffer", name)
		}
	}
	for _, v := range []struct {
		name string
		b    []byte
	}{{"method", r.Method}, {"target", r.Target}, {"path", r.Path}, {"query", r.RawQuery},
		{"host", r.Host}, {"content-type", r.ContentType}, {"connection", r.Connection},
		{"transfer-encoding", r.TransferEncoding}, {"expect", r.Expect}} {
		inside(v.name, v.b, data)
	}
	tp, _ := r.Traceparent()
	inside("traceparent", tp, data)
	for i := range MaxTracestateFields {
		inside("tracestate", r.Tracestate(i), data)
	}
	if r.Chunked {
		inside("body", r.Body, body)
	} else {
		inside("body", r.Body, data)
	}
	r.VisitHeaders(func(name, value []byte) bool {
		inside("header name", name, data)
		inside("header value", value, data)
		return true
	})
}

func sameRange(in []byte, start, end, _ *byte) bool {
	found := 0
	for i := range in {
		if &in[i] == start {
			found++
		}
		if &in[i] == end {
			found++
		}
	}
	return found == 2
}

// onlyOursRejects lists the documented reasons for which this parser
// rejects input that net/http's ReadRequest (plus reading the body) accepts.
// Each is explained in the package doc, "Differences from net/http".
var onlyOursRejects = map[string]string{
	"http version not supported":                "ReadRequest accepts any HTTP/d.d; its server answers 505 later",
	"bare lf line ending":                       "net/textproto accepts LF without CR",
	"obsolete line folding":                     "net/textproto unfolds obs-fold",
	"whitespace before colon":                   "net/textproto keeps such a name as an odd, uncanonicalized key (go.dev/issue/34540)",
	"empty header name":                         "net/textproto skips lines with an empty name",
	"invalid request target":                    "we allow only RFC 3986 characters and http(s) absolute-form",
	"asterisk target is only for options":       "net/http accepts * for any method",
	"connect is not supported":                  "this server does not tunnel",
	"missing host header":                       "ReadRequest leaves this to the server (which answers 400)",
	"invalid host header":                       "ReadRequest leaves this to the server (which answers 400)",
	"transfer-encoding in http/1.0 request":     "net/http ignores Transfer-Encoding in HTTP/1.0",
	"both content-length and transfer-encoding": "net/http drops Content-Length; we refuse the smuggling vector",
	"unsupported expectation":                   "ReadRequest leaves this to the server (which answers 417)",
	"invalid chunk extension":                   "net/http ignores chunk extensions and trims whitespace",
	"request body too large":                    "limit",
	"header section too large":                  "limit",
	"too many header fields":                    "limit",
	"request target too long":                   "limit",
	"trailer section too large":                 "limit",
	"chunk extensions too long":                 "limit",
	"method too long":                           "limit",
}

// onlyGoRejects reports whether a request this parser accepts but net/http
// rejects is a documented difference.
func onlyGoRejects(data []byte, goErr error) bool {
	switch {
	case bytes.HasPrefix(data, []byte("\r\n")):
		return true // RFC 9112 §2.2: we skip empty lines before the request line
	case strings.Contains(goErr.Error(), "transfer encoding"):
		return true // net/http takes only one exact "chunked" TE field
	case strings.Contains(goErr.Error(), "invalid byte in chunk length") && bwsBeforeExt(data):
		return true // RFC 9112 §7.1.1 BWS before ";", which net/http does not take
	case strings.Contains(goErr.Error(), "suspiciously long trailer"),
		strings.Contains(goErr.Error(), "line too long"):
		return true // net/http's own bounds on chunk lines and trailers
	}
	return false
}

// FuzzDifferential compares Parse with http.ReadRequest. Where both accept,
// method, target, version, headers, Host and body must agree; where only one
// accepts, the case must be a documented difference.
func FuzzDifferential(f *testing.F) {
	addSeeds(f, func(data []byte) { f.Add(data) })
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Parser
		_, err := p.Parse(data)
		req, goErr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		var goBody []byte
		if goErr == nil {
			goBody, goErr = io.ReadAll(req.Body)
		}
		var e *Error
		switch {
		case err != nil && goErr != nil:
			return
		case err != nil:
			if !errors.As(err, &e) {
				t.Fatalf("only net/http accepts; we say %v", err)
			}
			if _, ok := onlyOursRejects[e.Reason]; !ok {
				t.Fatalf("only net/http accepts; we say %v", err)
			}
			return
		case goErr != nil:
			if !onlyGoRejects(data, goErr) {
				t.Fatalf("only we accept; net/http says %v", goErr)
			}
			return
		}
		r := p.Request()
		if string(r.Method) != req.Method || string(r.Target) != req.RequestURI ||
			r.Major != req.ProtoMajor || r.Minor != req.ProtoMinor {
			t.Fatalf("request line: ours %q %q %d.%d, net/http %q %q %d.%d",
				r.Method, r.Target, r.Major, r.Minor, req.Method, req.RequestURI, req.ProtoMajor, req.ProtoMinor)
		}
		ours := http.Header{}
		r.VisitHeaders(func(name, value []byte) bool {
			k := http.CanonicalHeaderKey(string(name))
			switch k {
			case "Host", "Transfer-Encoding":
				return true // net/http moves these out of Header
			case "Content-Length":
				if len(ours[k]) > 0 {
					return true // net/http keeps one of identical repeats
				}
			}
			ours[k] = append(ours[k], string(value))
			return true
		})
		for k, v := range req.Header {
			if !slices.Equal(ours[k], v) {
				t.Fatalf("header %q: ours %q, net/http %q", k, ours[k], v)
			}
		}
		if len(ours) != len(req.Header) {
			t.Fatalf("headers: ours %q, net/http %q", ours, req.Header)
		}
		if r.Target[0] == '/' && string(r.Host) != req.Host {
			t.Fatalf("host: ours %q, net/http %q", r.Host, req.Host)
		}
		if !bytes.Equal(r.Body, goBody) {
			t.Fatalf("body: ours %q, net/http %q", r.Body, goBody)
		}
	})
}

// bwsBeforeExt reports whether some line of data is a chunk size followed by
// whitespace and ";".
func bwsBeforeExt(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		i := 0
		for i < len(line) && isHex(line[i]) {
			i++
		}
		j := i
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		if i > 0 && j > i && j < len(line) && line[j] == ';' {
			return true
		}
	}
	return false
}
