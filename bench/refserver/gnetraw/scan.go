package main

import "bytes"

// maxHeader bounds the bytes the raw server buffers while waiting for a
// request's end; past it the connection is closed.
const maxHeader = 64 << 10

var (
	crlfcrlf     = []byte("\r\n\r\n")
	contentLen   = []byte("\r\nContent-Length:")
	contentLenLC = []byte("\r\ncontent-length:")
	connClose    = []byte("\r\nConnection: close")
)

// scan counts the complete requests at the start of buf: each one ends at
// the first "\r\n\r\n" plus the length of its Content-Length body. It
// returns how many it found, how many bytes they span, and whether any of
// them asked to close the connection ("Connection: close", spelled exactly
// as wrk and curl send it).
//
// This is deliberately not an HTTP parser: no method, target, chunked
// body or header validation. It is the least work that still answers one
// reply per request, which makes this server the ceiling of the design,
// not a correct server.
func scan(buf []byte) (n, used int, closeConn bool) {
	for {
		rest := buf[used:]
		end := bytes.Index(rest, crlfcrlf)
		if end < 0 {
			return n, used, closeConn
		}
		head := rest[:end+2] // keep the last CRLF so every header starts after one
		total := end + 4 + bodyLen(head)
		if total > len(rest) {
			return n, used, closeConn
		}
		if bytes.Contains(head, connClose) {
			closeConn = true
		}
		n++
		used += total
	}
}

// bodyLen returns the Content-Length value in head, or 0.
func bodyLen(head []byte) int {
	i := bytes.Index(head, contentLen)
	if i < 0 {
		if i = bytes.Index(head, contentLenLC); i < 0 {
			return 0
		}
	}
	v := 0
	for _, c := range head[i+len(contentLen):] {
		switch {
		case c == ' ' || c == '\t':
			if v != 0 {
				return v
			}
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
			if v > maxHeader {
				return maxHeader
			}
		default:
			return v
		}
	}
	return v
}
