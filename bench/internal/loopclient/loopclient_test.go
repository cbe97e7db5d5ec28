package loopclient

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestPriceRequest checks that the request parses as one complete HTTP
// request whose Content-Length is its body's.
func TestPriceRequest(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(PriceRequest))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(PriceRequest, "\r\n\r\n")
	if req.ContentLength != int64(len(body)) || req.Method != "POST" || req.URL.Path != "/api/v1/price" {
		t.Errorf("%s: Content-Length %d, body %d bytes", head, req.ContentLength, len(body))
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8000": true, "127.0.0.2:1": true, "[::1]:8000": true,
		"10.0.0.1:8000": false, "localhost:8000": false, "127.0.0.1": false, ":8000": false,
	} {
		if err := CheckLoopback(addr); (err == nil) != ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		i, n int
		want string
	}{{0, 1, "127.0.0.1"}, {5, 1, "127.0.0.1"}, {5, 0, "127.0.0.1"}, {1, 2, "127.0.0.2"}, {2, 2, "127.0.0.1"}, {3, 4, "127.0.0.4"}} {
		if got := Source(tc.i, tc.n).String(); got != tc.want {
			t.Errorf("Source(%d, %d) = %s, want %s", tc.i, tc.n, got, tc.want)
		}
	}
}

func TestReadOK(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}NEXT", ""},
		{"header case", "HTTP/1.1 200 OK\r\ncontent-length:  3 \r\n\r\nabcNEXT", ""},
		{"not 200", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}", "unexpected status"},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n", "no Content-Length"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad Content-Length"},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Le", "cannot read header"},
		{"empty", "", "cannot read status line"},
	} {
		br := bufio.NewReader(strings.NewReader(tc.in))
		err := ReadOK(br)
		if tc.wantErr == "" {
			rest, _ := br.ReadString(0)
			if err != nil || rest != "NEXT" {
				t.Errorf("%s: err %v, left %q; want nil and the next reply untouched", tc.name, err, rest)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
