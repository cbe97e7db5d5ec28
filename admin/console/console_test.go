package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServesFilesWithHeaders(t *testing.T) {
	h := New()
	mux := http.NewServeMux()
	for p, handler := range h.Routes() {
		mux.Handle(p, handler)
	}
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/console", "text/html; charset=utf-8", `<script src="/console/console.js" defer></script>`},
		{"/console/", "text/html; charset=utf-8", "<title>Pricing console</title>"},
		{"/console/console.js", "text/javascript; charset=utf-8", "'use strict';"},
		{"/console/console.css", "text/css; charset=utf-8", "#message"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tc.path, rec.Code)
			continue
		}
		hd := rec.Header()
		if hd.Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, hd.Get("Content-Type"), tc.contentType)
		}
		if !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", tc.path, csp, want)
			}
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: nosniff / frame headers missing: %v", tc.path, hd)
		}
		etag := hd.Get("ETag")
		rec = httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("If-None-Match", `W/"x", `+etag)
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("GET %s with If-None-Match %s = %d with %d bytes, want 304 without body", tc.path, etag, rec.Code, rec.Body.Len())
		}
	}
	for _, path := range []string{"/console/nope.js", "/console/assets/console.js", "/console/console.js/x"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound || rec.Body.String() != `{"detail":"Not Found"}` {
			t.Errorf("GET %s = %d %q, want 404 {\"detail\":\"Not Found\"}", path, rec.Code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/console", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /console = %d with %d bytes, want 200 without body", rec.Code, rec.Body.Len())
	}
}

// TestPageKeepsTokenInMemory holds the page to its promise: nothing of it
// stores the token or loads anything from another origin.
func TestPageKeepsTokenInMemory(t *testing.T) {
	for _, name := range []string{"index.html", "console.js", "console.css"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, bad := range []string{"localStorage", "sessionStorage", "document.cookie", "indexedDB", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "http://", "https://", "//cdn"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}
