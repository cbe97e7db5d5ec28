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

func TestFile(t *testing.T) {
	d := apidocs.New()
	tests := []struct {
		path        string
		contentType string // "" means not served
		prefix      string
		cache       string
	}{
		{"/openapi.json", "application/json", "{", "no-cache"},
		{"/docs", "text/html; charset=utf-8", "<!DOCTYPE html>", "no-cache"},
		{"/docs/", "text/html; charset=utf-8", "<!DOCTYPE html>", "no-cache"},
		{"/docs/index.html", "text/html; charset=utf-8", "<!DOCTYPE html>", "no-cache"},
		{"/docs/swagger-ui.css", "text/css; charset=utf-8", "", "public, max-age=3600"},
		{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "/*!", "public, max-age=3600"},
		{"/docs/swagger-initializer.js", "text/javascript; charset=utf-8", "//", "public, max-age=3600"},
		{"/docs/favicon-32x32.png", "image/png", "\x89PNG", "public, max-age=3600"},
		{"/docs/LICENSE", "text/plain; charset=utf-8", "", "public, max-age=3600"},
		{"/docs/VERSION", "text/plain; charset=utf-8", "package: swagger-ui-dist", "public, max-age=3600"},
		{"/openapi.json?x=1", "", "", ""}, // a path, never a query
		{"/docs/nope.js", "", "", ""},
		{"/docs/../openapi.json", "", "", ""},
		{"/docs/./index.html", "", "", ""},
		{"/docs//index.html", "", "", ""},
		{"/docs/assets/index.html", "", "", ""},
		{"/docs/.", "", "", ""},
		{"/docsx", "", "", ""},
		{"/openapi.yaml", "", "", ""},
		{"/", "", "", ""},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, ok := d.File([]byte(tt.path))
			if ok != (tt.contentType != "") {
				t.Fatalf("File(%q) ok = %v, want %v", tt.path, ok, !ok)
			}
			if !ok {
				return
			}
			if f.ContentType != tt.contentType || f.CacheControl != tt.cache {
				t.Errorf("File(%q): Content-Type %q, Cache-Control %q; want %q, %q", tt.path, f.ContentType, f.CacheControl, tt.contentType, tt.cache)
			}
			if len(f.Body) == 0 || !bytes.HasPrefix(f.Body, []byte(tt.prefix)) {
				t.Errorf("File(%q) body starts %q, want prefix %q", tt.path, f.Body[:min(len(f.Body), 20)], tt.prefix)
			}
			if !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(f.ETag) {
				t.Errorf("File(%q).ETag = %q, want a quoted strong tag of 16 hex digits", tt.path, f.ETag)
			}
		})
	}
}

// TestFileShared checks that File hands out the bytes read at New, the same
// on every call and for every path of one file: nothing is read or copied
// per request.
func TestFileShared(t *testing.T) {
	d := apidocs.New()
	a, _ := d.File([]byte("/docs/swagger-ui-bundle.js"))
	b, _ := d.File([]byte("/docs/swagger-ui-bundle.js"))
	if &a.Body[0] != &b.Body[0] {
		t.Error("two calls of File returned different copies of the bundle")
	}
	page, _ := d.File([]byte("/docs"))
	index, _ := d.File([]byte("/docs/index.html"))
	if page != index {
		t.Error("/docs and /docs/index.html are different copies")
	}
	path := []byte("/docs/swagger-ui-bundle.js")
	if n := testing.AllocsPerRun(100, func() { _, _ = d.File(path) }); n != 0 {
		t.Errorf("File allocates %.0f times per call, want 0", n)
	}
}

func TestNotModified(t *testing.T) {
	f, _ := apidocs.New().File([]byte("/openapi.json"))
	tag := f.ETag
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{tag, true},
		{"W/" + tag, true},
		{`"0000000000000000", ` + tag, true},
		{` "x" ,W/` + tag + ` `, true},
		{"*", true},
		{"", false},
		{`"0000000000000000"`, false},
		{tag[1 : len(tag)-1], false}, // unquoted
		{tag + "x", false},
	} {
		if got := f.NotModified([]byte(tc.header)); got != tc.want {
			t.Errorf("NotModified(%q) = %v, want %v (ETag %s)", tc.header, got, tc.want, tag)
		}
	}
}

// TestPageIsSelfContained checks that the page and its initializer refer
// only to files this package serves, never to another origin.
func TestPageIsSelfContained(t *testing.T) {
	d := apidocs.New()
	pageFile, _ := d.File([]byte("/docs"))
	initFile, _ := d.File([]byte("/docs/swagger-initializer.js"))
	page, init := pageFile.Body, initFile.Body
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
		if _, ok := d.File(m[1]); !ok {
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
	d := apidocs.New()
	srv := httptest.NewServer(d)
	defer srv.Close()
	doc, _ := d.File([]byte("/openapi.json"))
	etag := doc.ETag
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
		{"weak not modified", "GET", "/openapi.json", map[string]string{"If-None-Match": `"x", W/` + etag}, 304, "", "", ""},
		{"modified", "GET", "/openapi.json", map[string]string{"If-None-Match": `"0000000000000000"`}, 200, "application/json", "{", ""},
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
			if resp.StatusCode == 200 && (resp.Header.Get("ETag") != etag && tt.path == "/openapi.json" || resp.Header.Get("Cache-Control") == "") {
				t.Errorf("ETag %q, Cache-Control %q: want the file's tag and a caching rule", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
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
	h := apidocs.New()
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
