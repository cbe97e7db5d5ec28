package server

import "testing"

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
