package apidocs_test

import (
	"bytes"
	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	d := apidocs.New()
	tests := []struct {
		path        string
		contentType string // "" means not served
		prefix      string
	}{
		{"/openapi.json", "application/json", "{"},
		{"/openapi.json?x=1", "application/json", "{"},
		{"/docs", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"/docs/", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"/docs/index.html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"/docs/swagger-ui.css", "text/css; charset=utf-8", ""},
		{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "/*!"},
		{"/docs/swagger-initializer.js", "text/javascript; charset=utf-8", "//"},
		{"/docs/favicon-32x32.png", "image/png", "\x89PNG"},
		{"/docs/LICENSE", "text/plain; charset=utf-8", ""},
		{"/docs/VERSION", "text/plain; charset=utf-8", "package: swagger-ui-dist"},
		{"/docs/nope.js", "", ""},
		{"/docs/../openapi.json", "", ""},
		{"/docs/./index.html", "", ""},
		{"/docs//index.html", "", ""},
		{"/docs/assets/index.html", "", ""},
		{"/docs/.", "", ""},
		{"/docsx", "", ""},
		{"/openapi.yaml", "", ""},
		{"/", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			for name, lookup := range map[string]func(string) ([]byte, string, bool){"Lookup": apidocs.Lookup, "apidocs.Docs.Lookup": d.Lookup} {
				body, ct, ok := lookup(tt.path)
				if ok != (tt.contentType != "") {
					t.Fatalf("%s(%q) ok = %v, want %v", name, tt.path, ok, !ok)
				}
				if !ok {
					continue
				}
				if ct != tt.contentType {
					t.Errorf("%s(%q) content type = %q, want %q", name, tt.path, ct, tt.contentType)
				}
				if len(body) == 0 || !bytes.HasPrefix(body, []byte(tt.prefix)) {
					t.Errorf("%s(%q) body starts %q, want prefix %q", name, tt.path, body[:min(len(body), 20)], tt.prefix)
				}
			}
		})
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	a, _, _ := apidocs.Lookup("/openapi.json")
	a[0] = 'X'
	if b := apidocs.OpenAPI(); b[0] != '{' {
		t.Fatal("modifying the slice from apidocs.Lookup changed the next apidocs.OpenAPI result")
	}
}

// TestPageIsSelfContained checks that the page and its initializer refer
// only to files this package serves, never to another origin.
func TestPageIsSelfContained(t *testing.T) {
	d := apidocs.New()
	page, _, _ := d.Lookup("/docs")
	init, _, _ := d.Lookup("/docs/swagger-initializer.js")
	for name, text := range map[string][]byte{"index.html": page, "swagger-initializer.js": init} {
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).Find(text); m != nil {
			t.Errorf("%s refers to another origin: %s", name, m)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html has %d src/href references, want the style sheet, bundle and initializer", len(refs))
	}
	for _, m := range refs {
		if _, _, ok := d.Lookup(string(m[1])); !ok {
			t.Errorf("index.html refers to %s, which is not served", m[1])
		}
	}
	for _, want := range []string{`url: "/openapi.json"`, "validatorUrl: null"} {
		if !bytes.Contains(init, []byte(want)) {
			t.Errorf("swagger-initializer.js lacks %s", want)
		}
	}
	if !bytes.Contains(page, []byte("Content-Security-Policy")) {
		t.Error("index.html has no Content-Security-Policy")
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(apidocs.Handler())
	defer srv.Close()
	etag := apidocs.New().ETag("/openapi.json")
	if etag == "" {
		t.Fatal("no ETag for /openapi.json")
	}
	tests := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		status      int
		contentType string
		body        string // prefix
		allow       string
	}{
		{"openapi", "GET", "/openapi.json", nil, 200, "application/json", `{`, ""},
		{"page", "GET", "/docs", nil, 200, "text/html; charset=utf-8", "<!DOCTYPE html>", ""},
		{"page slash", "GET", "/docs/", nil, 200, "text/html; charset=utf-8", "<!DOCTYPE html>", ""},
		{"asset", "GET", "/docs/swagger-ui-bundle.js", nil, 200, "text/javascript; charset=utf-8", "/*!", ""},
		{"head", "HEAD", "/openapi.json", nil, 200, "application/json", "", ""},
		{"not modified", "GET", "/openapi.json", map[string]string{"If-None-Match": etag}, 304, "", "", ""},
		{"range", "GET", "/openapi.json", map[string]string{"Range": "bytes=0-0"}, 206, "application/json", "{", ""},
		{"missing asset", "GET", "/docs/nope.js", nil, 404, "application/json", `{"detail":"Not Found"}`, ""},
		{"post", "POST", "/openapi.json", nil, 405, "application/json", `{"detail":"Method Not Allowed"}`, "GET, HEAD"},
		{"delete page", "DELETE", "/docs", nil, 405, "application/json", `{"detail":"Method Not Allowed"}`, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); tt.contentType != "" && ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("body starts %q, want prefix %q", body[:min(len(body), 40)], tt.body)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD reply has a %d-byte body", len(body))
			}
		})
	}
}

// TestHandlerRepliesMatchDocument checks the handler's own replies against
// the document it serves.
func TestHandlerRepliesMatchDocument(t *testing.T) {
	v, err := apicheck.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	h := apidocs.Handler()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/openapi.json"},
		{"GET", "/docs"},
		{"GET", "/docs/"},
		{"GET", "/docs/swagger-ui.css"},
		{"GET", "/docs/favicon-16x16.png"},
		{"GET", "/docs/nope.css"},
		{"POST", "/openapi.json"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if err := v.ValidateResponse(tc.method, tc.path, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
		}
	}
}
