package main

import "testing"

func TestScan(t *testing.T) {
	req := "POST /api/v1/price HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	closing := "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
	lower := "POST / HTTP/1.1\r\ncontent-length:  3\r\n\r\nabc"
	for _, tc := range []struct {
		in        string
		n, used   int
		closeConn bool
	}{
		{"", 0, 0, false},
		{req[:20], 0, 0, false},
		{req[:len(req)-1], 0, 0, false},
		{req, 1, len(req), false},
		{req + req + req[:10], 2, 2 * len(req), false},
		{get + req, 2, len(get) + len(req), false},
		{req + closing, 2, len(req) + len(closing), true},
		{lower + get, 2, len(lower) + len(get), false},
	} {
		n, used, cl := scan([]byte(tc.in))
		if n != tc.n || used != tc.used || cl != tc.closeConn {
			t.Errorf("scan(%q) = %d, %d, %v; want %d, %d, %v", tc.in, n, used, cl, tc.n, tc.used, tc.closeConn)
		}
	}
}
