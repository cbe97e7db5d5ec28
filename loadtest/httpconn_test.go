package loadtest

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// scriptConn is a net.Conn that reads a fixed script in small pieces, to
// exercise buffer refills and growth.
type scriptConn struct {
	net.Conn
	data  string
	chunk int
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if c.data == "" {
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", 10000)
	type want struct {
		status int
		body   string
		close  bool
	}
	tests := []struct {
		name    string
		script  string
		want    []want
		wantErr error // after the wanted responses
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", []want{{200, "hello", false}}, io.EOF},
		{"pipelined", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 503 Busy\r\ncontent-length: 2\r\n\r\nbb", []want{{200, "a", false}, {503, "bb", false}}, io.EOF},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", []want{{200, "abc0123456789", false}}, io.EOF},
		{"large body grows buffer", "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + big, []want{{200, big, false}}, io.EOF},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", []want{{200, "", true}}, io.EOF},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", []want{{200, "", true}}, io.EOF},
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil the end", []want{{200, "until the end", true}}, io.EOF},
		{"1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", []want{{204, "", false}}, io.EOF},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", nil, io.ErrUnexpectedEOF},
		{"truncated head", "HTTP/1.1 200 OK\r\nContent-", nil, io.ErrUnexpectedEOF},
		{"bad status line", "HTTP/2 200 OK\r\n\r\n", nil, errStatusLine},
		{"not http", "HELLO THERE\r\n\r\n", nil, errStatusLine},
		{"bad header", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", nil, errHeaderLine},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", nil, errContentLength},
		{"conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", nil, errContentLength},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", nil, errChunk},
		{"body over limit", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", nil, errBodyTooBig},
		{"headers over limit", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", maxHeaderBytes) + "\r\n\r\n", nil, errHeaderTooBig},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			t.Run(tc.name, func(t *testing.T) {
				c := newClientConn(&scriptConn{data: tc.script, chunk: chunk}, nil)
				var resp response
				for i, w := range tc.want {
					if err := c.readResponse(&resp); err != nil {
						t.Fatalf("response %d: %v", i, err)
					}
					if resp.status != w.status || string(resp.body) != w.body || resp.close != w.close {
						t.Fatalf("response %d = %d %q close=%v, want %d %q close=%v", i, resp.status, truncate(string(resp.body)), resp.close, w.status, truncate(w.body), w.close)
					}
				}
				if err := c.readResponse(&resp); !errors.Is(err, tc.wantErr) {
					t.Fatalf("final read: %v, want %v", err, tc.wantErr)
				}
			})
		}
	}
}
