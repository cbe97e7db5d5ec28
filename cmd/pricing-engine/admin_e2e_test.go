package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestE2EPprofOptIn checks that /debug/pprof/ is served only when asked for,
// by flag or by environment, and only on the admin port.
func TestE2EPprofOptIn(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		want int // admin port status
	}{
		{"default", nil, nil, 404},
		{"--pprof", []string{"--pprof"}, nil, 200},
		{"--pprof=false", []string{"--pprof=false"}, []string{"PRICING_PPROF=true"}, 404}, // the flag wins
		{"PRICING_PPROF=true", nil, []string{"PRICING_PPROF=true"}, 200},
		{"PRICING_PPROF=0", nil, []string{"PRICING_PPROF=0"}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startServer(t, append(append([]string{}, loopbackArgs...), tc.args...), tc.env...)
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
				code, _, body := p.do("GET", "http://"+p.admin+path, "", "")
				if code != tc.want {
					t.Errorf("admin GET %s = %d, want %d\n%.200s", path, code, tc.want, body)
				}
				if code == 404 && body != `{"detail":"Not Found"}` {
					t.Errorf("admin GET %s: 404 body %q", path, body)
				}
			}
			if code, _, _ := p.do("GET", "http://"+p.api+"/debug/pprof/", "", ""); code != 404 {
				t.Errorf("API port GET /debug/pprof/ = %d, want 404 always", code)
			}
			rec, _ := p.logRecord("starting pricing-engine")
			if got, want := rec["pprof"], tc.want == 200; got != want {
				t.Errorf(`"starting" line: pprof=%v, want %v`, got, want)
			}
		})
	}
	t.Run("invalid PRICING_PPROF", func(t *testing.T) {
		r := runBinary(t, loopbackArgs, "PRICING_PPROF=maybe")
		if r.code != 2 || !strings.Contains(r.stderr, "PRICING_PPROF") {
			t.Errorf("exit %d, stderr %q; want 2 naming PRICING_PPROF", r.code, r.stderr)
		}
	})
}

// TestE2EDocsCaching checks on both ports that the docs carry an ETag and
// Cache-Control and that a request naming the ETag is answered 304 with no
// body.
func TestE2EDocsCaching(t *testing.T) {
	p := startServer(t, loopbackArgs)
	for _, base := range []string{"http://" + p.api, "http://" + p.admin} {
		for _, tc := range []struct{ path, cache string }{
			{"/docs/swagger-ui-bundle.js", "public, max-age=3600"},
			{"/openapi.json", "no-cache"},
			{"/docs", "no-cache"},
		} {
			code, h, body := p.do("GET", base+tc.path, "", "")
			etag := h.Get("ETag")
			if code != 200 || etag == "" || h.Get("Cache-Control") != tc.cache || len(body) == 0 {
				t.Errorf("GET %s%s = %d, ETag %q, Cache-Control %q, %d bytes; want 200, a tag, %q, a body",
					base, tc.path, code, etag, h.Get("Cache-Control"), len(body), tc.cache)
				continue
			}
			req, err := http.NewRequest("GET", base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("If-None-Match", etag)
			resp, err := p.client.Do(req)
			if err != nil {
				t.Fatalf("GET %s%s with If-None-Match: %v", base, tc.path, err)
			}
			n, _ := resp.Body.Read(make([]byte, 1))
			_ = resp.Body.Close()
			if resp.StatusCode != 304 || n != 0 || resp.Header.Get("ETag") != etag {
				t.Errorf("GET %s%s If-None-Match %s = %d (%d body bytes, ETag %q), want 304 with no body",
					base, tc.path, etag, resp.StatusCode, n, resp.Header.Get("ETag"))
			}
		}
	}
}
