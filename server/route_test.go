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
