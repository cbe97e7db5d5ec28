package server

import (
	"fmt"
	"net/http"
	"testing"
)

func TestIsJSONContentType(t *testing.T) {
	for _, tt := range []struct {
		ct   string
		json bool
	}{
		{"", true},
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json; charset=utf-8", true},
		{"application/json ;charset=utf-8", true},
		{"application/problem+json", true},
		{"application/vnd.api+JSON; q=1", true},
		{"application/jsonx", false},
		{"application/+json", false}, // no subtype before +json
		{"text/json", false},
		{"text/plain", false},
		{"application/", false},
		{"json", false},
	} {
		if got := isJSONContentType([]byte(tt.ct)); got != tt.json {
			t.Errorf("isJSONContentType(%q) = %v, want %v", tt.ct, got, tt.json)
		}
	}
}

// TestStatusLine checks every pre-rendered status line against the reason
// phrases of RFC 9110 section 15 (net/http's, except the three it still
// names as in RFC 7231) and the fallback for other codes.
func TestStatusLine(t *testing.T) {
	rfc9110 := map[int]string{413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}
	for _, code := range []int{100, 200, 304, 400, 404, 405, 408, 413, 414, 415, 417, 422, 431, 500, 501, 502, 503, 505} {
		reason, ok := rfc9110[code]
		if !ok {
			reason = http.StatusText(code)
		}
		want := fmt.Sprintf("HTTP/1.1 %d %s\r\n", code, reason)
		if got := string(appendStatusLine(nil, code)); got != want {
			t.Errorf("status %d: %q, want %q", code, got, want)
		}
	}
	if got := string(appendStatusLine(nil, 299)); got != "HTTP/1.1 299 Status\r\n" {
		t.Errorf("unknown status: %q", got)
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		path string
		want route
	}{
		{"/api/v1/price", routePrice},
		{"/api/v1/prices", routePrices},
		{"/metrics", routeMetrics},
		{"/healthz", routeHealthz},
		{"/readyz", routeReadyz},
		{"/docs", routeDocs},
		{"/docs/", routeDocs},
		{"/docs/swagger-ui.css", routeDocs},
		{"/openapi.json", routeOpenAPI},
		{"/docsx", routeUnknown},
		{"/doc", routeUnknown},
		{"/metrics/", routeUnknown}, // not a subtree
		{"/api/v1/price/", routeUnknown},
		{"/API/v1/price", routeUnknown},
		{"", routeUnknown},
		{"/", routeUnknown},
	} {
		if got := match([]byte(tt.path)); got != tt.want {
			t.Errorf("match(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	// Every row matches its own path; its endpoint label is its path.
	for r := routeUnknown + 1; r < routeCount; r++ {
		if got := match([]byte(routes[r].path)); got != r {
			t.Errorf("match(%q) = %d, want its row %d", routes[r].path, got, r)
		}
		if routes[r].endpoint != routes[r].path || routes[r].allow == "" || routes[r].kind == kindNotFound {
			t.Errorf("row %d %+v: endpoint must be the path, allow and kind set", r, routes[r])
		}
	}
	if n := testing.AllocsPerRun(100, func() { match([]byte("/docs/swagger-ui.css")) }); n != 0 {
		t.Errorf("match allocates %v times", n)
	}
}

func TestAllows(t *testing.T) {
	for _, tt := range []struct {
		r      route
		method string
		want   bool
	}{
		{routePrice, "POST", true},
		{routePrice, "GET", false},
		{routePrice, "HEAD", false},
		{routePrices, "POST", true},
		{routeHealthz, "GET", true},
		{routeHealthz, "HEAD", true},
		{routeHealthz, "get", false}, // methods are case-sensitive
		{routeHealthz, "GET, HEAD", false},
		{routeMetrics, "POST", false},
		{routeDocs, "HEAD", true},
		{routeUnknown, "GET", false},
		{routeUnknown, "", false},
	} {
		if got := tt.r.allows(tt.method); got != tt.want {
			t.Errorf("route %d allows(%q) = %v, want %v", tt.r, tt.method, got, tt.want)
		}
	}
}
