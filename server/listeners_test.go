package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestListenersAgree sends every route of the table, with every method,
// to both listeners: status, Allow, Content-Type, Retry-After and body
// must be the same (the body of /metrics is compared by its start only:
// its values move between two scrapes).
func TestListenersAgree(t *testing.T) {
	ts := startServer(t, serverOpts{readyDetail: func() string { return "ruleset_version: v7\n" }})
	const price = `{"product_id":"P-123","user_location":"NY"}`
	const batch = `{"items":[{"product_id":"P-123","user_location":"NY"}]}`
	paths := []struct{ path, body string }{
		{"/api/v1/price", price},
		{"/api/v1/prices", batch},
		{"/metrics", ""},
		{"/healthz", ""},
		{"/readyz", ""},
		{"/docs", ""},
		{"/docs/swagger-ui.css", ""},
		{"/docs/missing.js", ""},
		{"/openapi.json", ""},
		{"/nowhere", ""},
		{"/docsx", ""},
	}
	type reply struct {
		status                         int
		allow, contentType, retryAfter string
		body                           string
	}
	do := func(addr, method, path, body string) reply {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s on %s: %v", method, path, addr, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		r := reply{resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), string(b)}
		if path == "/metrics" && r.status == 200 {
			r.body, _, _ = strings.Cut(r.body, "\n") // the first HELP line
		}
		return r
	}
	seen405 := 0
	for _, p := range paths {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
			body := ""
			if method == "POST" || method == "PUT" {
				body = p.body
			}
			api, admin := do(ts.addr, method, p.path, body), do(ts.admin, method, p.path, body)
			if api != admin {
				t.Errorf("%s %s:\n API port   %+v\n admin port %+v", method, p.path, api, admin)
			}
			if api.status == 405 {
				seen405++
				if api.allow == "" || (method != "HEAD" && api.body != `{"detail":"Method Not Allowed"}`) {
					t.Errorf("%s %s: 405 %+v", method, p.path, api)
				}
			}
			if p.path == "/readyz" && method == "GET" && api.body != "ready\nruleset_version: v7\n" {
				t.Errorf("GET /readyz body %q, want the ready line and the detail", api.body)
			}
		}
	}
	if seen405 < 20 {
		t.Errorf("only %d replies were 405: the methods did not reach the routes' checks", seen405)
	}
}
