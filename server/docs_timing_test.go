package server

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/pricing-engine/pricing-engine/apidocs"
)

// docsRequest asks the API port for the largest Swagger UI asset.
const docsRequest = "GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n"

// newDocsConn is an event-loop handler and connection of a server that serves
// the docs, as main wires it.
func newDocsConn(tb testing.TB) (*handler, *fakeConn, *apidocs.File) {
	tb.Helper()
	s := newBenchServer(tb)
	s.docs = apidocs.New()
	f, ok := s.docs.File([]byte("/docs/swagger-ui-bundle.js"))
	if !ok {
		tb.Fatal("the bundle is not served")
	}
	h := &handler{srv: s}
	fc := &fakeConn{}
	h.OnOpen(fc)
	return h, fc, f
}

// BenchmarkDocsGET measures a GET of swagger-ui-bundle.js (about 1.5 MB) on
// the event loop, and the same GET revalidated with If-None-Match (304).
// The target is 0 allocs/op: the bytes are read once at start.
func BenchmarkDocsGET(b *testing.B) {
	for _, tc := range []struct{ name, extra string }{{"full", ""}, {"notmodified", "etag"}} {
		b.Run(tc.name, func(b *testing.B) {
			h, fc, f := newDocsConn(b)
			req := []byte(docsRequest + "\r\n")
			if tc.extra != "" {
				req = []byte(docsRequest + "If-None-Match: " + f.ETag + "\r\n\r\n")
			}
			fc.in = req
			h.OnTraffic(fc) // warm up
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				fc.in = req
				fc.out = fc.out[:0]
				h.OnTraffic(fc)
			}
			b.StopTimer()
			if len(fc.out) == 0 {
				b.Fatal("no reply")
			}
		})
	}
}

// TestDocsOnAPIPort checks the API port's docs replies (200 with ETag and
// Cache-Control, 304 on a matching If-None-Match, 404 for a missing asset)
// and that none of them allocates: the bytes are shared, not read per
// request.
func TestDocsOnAPIPort(t *testing.T) {
	h, fc, f := newDocsConn(t)
	cases := []struct {
		name, req string
		status    int
		body      []byte
	}{
		{"full", docsRequest + "\r\n", 200, f.Body},
		{"not modified", docsRequest + "If-None-Match: " + f.ETag + "\r\n\r\n", 304, nil},
		{"weak list", docsRequest + `If-None-Match: "0000000000000000", W/` + f.ETag + "\r\n\r\n", 304, nil},
		{"other tag", docsRequest + "If-None-Match: \"0000000000000000\"\r\n\r\n", 200, f.Body},
		{"head", "HEAD /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: h\r\n\r\n", 200, nil},
		{"missing", "GET /docs/missing.js HTTP/1.1\r\nHost: h\r\n\r\n", 404, []byte(`{"detail":"Not Found"}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := []byte(tc.req)
			run := func() {
				fc.in = req
				fc.out = fc.out[:0]
				h.OnTraffic(fc)
			}
			run()
			method := "GET"
			if tc.name == "head" {
				method = "HEAD"
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(fc.out)), &http.Request{Method: method})
			if err != nil {
				t.Fatalf("cannot read the reply: %v\n%.300q", err, fc.out)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !bytes.Equal(body, tc.body) {
				t.Fatalf("status %d, %d-byte body; want %d, %d bytes\n%.300q", resp.StatusCode, len(body), tc.status, len(tc.body), fc.out)
			}
			if tc.status != 404 {
				if resp.Header.Get("ETag") != f.ETag || resp.Header.Get("Cache-Control") != f.CacheControl ||
					resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("headers %v: want ETag %s, Cache-Control %q, nosniff", resp.Header, f.ETag, f.CacheControl)
				}
			}
			if tc.status == 404 {
				return
			}
			// AllocsPerRun counts the whole process's allocations; 100 runs
			// of the 1.5 MB reply take long enough under -race on a busy
			// machine for goroutines of other tests to add to them once.
			// An allocation of the reply path shows in every attempt: take
			// the least of three.
			n := testing.AllocsPerRun(100, run)
			for i := 0; i < 2 && n != 0; i++ {
				n = min(n, testing.AllocsPerRun(100, run))
			}
			if n != 0 {
				t.Errorf("%s allocates %.1f times per request, want 0", tc.name, n)
			}
		})
	}
}
