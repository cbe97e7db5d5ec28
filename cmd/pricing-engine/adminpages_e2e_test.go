package main

import (
	"testing"

	"github.com/pricing-engine/pricing-engine/apidocs"
	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
)

// TestE2EAdminPages checks the admin listener's open pages: the console
// and the admin API's OpenAPI document, each held to that document; the
// API port serves neither.
func TestE2EAdminPages(t *testing.T) {
	v, err := apicheck.NewAdminValidator()
	if err != nil {
		t.Fatal(err)
	}
	p := startServer(t, loopbackArgs)
	for _, tc := range []struct {
		path, contentType string
		checked           bool // described by the document
	}{
		{"/console", "text/html; charset=utf-8", true},
		{"/console/console.js", "text/javascript; charset=utf-8", false},
		{"/console/console.css", "text/css; charset=utf-8", false},
		{apidocs.AdminOpenAPIPath, "application/json", true},
	} {
		code, h, body := p.do("GET", "http://"+p.admin+tc.path, "", "")
		if code != 200 || h.Get("Content-Type") != tc.contentType {
			t.Errorf("admin GET %s = %d %q, want 200 %q", tc.path, code, h.Get("Content-Type"), tc.contentType)
		}
		if tc.checked {
			if err := v.ValidateResponse("GET", tc.path, code, h, []byte(body)); err != nil {
				t.Errorf("admin GET %s: %v", tc.path, err)
			}
		}
		if tc.path == apidocs.AdminOpenAPIPath && body != string(apidocs.AdminOpenAPI()) {
			t.Errorf("admin GET %s is not the embedded document", tc.path)
		}
		if code, _, body := p.do("GET", "http://"+p.api+tc.path, "", ""); code != 404 {
			t.Errorf("API port GET %s = %d %s, want 404", tc.path, code, body)
		}
	}
}
