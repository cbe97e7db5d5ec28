package loadtest

import (
	"bytes"
	"errors"
	"io"
	"net"
)

// Bounds of the response reader.
const (
	// initialReadBuffer is the read buffer a connection starts with.
	initialReadBuffer = 4 << 10
	// maxHeaderBytes bounds the status line and headers of a response.
	maxHeaderBytes = 64 << 10
	// maxBodyBytes bounds a response body.
	maxBodyBytes = 1 << 20
)

// malformedError reports a response that does not follow HTTP/1.1.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return "malformed response: " + e.reason }

// Malformed-response reasons, allocated once.
var (
	errStatusLine    = &malformedError{"bad status line"}
	errHeaderLine    = &malformedError{"bad header line"}
	errHeaderTooBig  = &malformedError{"headers over the limit"}
	errBodyTooBig    = &malformedError{"body over the limit"}
	errContentLength = &malformedError{"bad Content-Length"}
	errChunk         = &malformedError{"bad chunked encoding"}
)

// response is one parsed response. body is a view valid until the next
// call of readResponse on the same connection.
type response struct {
	status int
	body   []byte
	close  bool // the server will close the connection after it
}

// errAgain is returned by a non-blocking source that has no byte to give
// yet. readResponse then rewinds to the start of the response it was
// reading and returns errAgain; calling it again once more bytes can be
// read parses the response from its start (the epoll engine does this).
var errAgain = errors.New("no data yet")

// clientConn is a client-side HTTP/1.1 connection with its own read
// buffer. It is not safe for concurrent use.
type clientConn struct {
	nc      net.Conn  // the connection of the goroutine engine; nil in the epoll engine
	src     io.Reader // where fill reads from: nc, or a non-blocking socket
	buf     []byte    // buf[r:w] holds bytes read and not consumed
	mark    int       // start of the response being read: fill keeps buf[mark:]
	r, w    int
	chunked []byte // assembled body of a chunked response
	used    bool   // at least one response was read on nc
}

func newClientConn(nc net.Conn, buf []byte) *clientConn {
	c := &clientConn{}
	c.resetSource(nc, nc, buf)
	return c
}

// resetSource makes c a fresh connection reading from src, keeping buf
// (or c's own buffers when buf is nil) for reuse.
func (c *clientConn) resetSource(nc net.Conn, src io.Reader, buf []byte) {
	if buf == nil {
		buf = c.buf
	}
	if cap(buf) < initialReadBuffer {
		buf = make([]byte, initialReadBuffer)
	}
	*c = clientConn{nc: nc, src: src, buf: buf[:cap(buf)], chunked: c.chunked[:0]}
}

// buffered returns the number of unconsumed bytes.
func (c *clientConn) buffered() int { return c.w - c.r }

// fill reads at least one more byte into the buffer, compacting or
// growing it as needed, never beyond limit unconsumed bytes.
func (c *clientConn) fill(limit int) error {
	if c.w == len(c.buf) {
		if c.mark > 0 {
			n := copy(c.buf, c.buf[c.mark:c.w])
			c.r -= c.mark
			c.w, c.mark = n, 0
		} else {
			if len(c.buf) >= limit {
				return errBodyTooBig
			}
			nb := make([]byte, min(2*len(c.buf), limit))
			copy(nb, c.buf[:c.w])
			c.buf = nb
		}
	}
	n, err := c.src.Read(c.buf[c.w:])
	if n > 0 {
		c.w += n
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// ensure makes at least n unconsumed bytes available.
func (c *clientConn) ensure(n, limit int) error {
	for c.buffered() < n {
		if err := c.fill(limit); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readResponse reads the next response. Informational (1xx) responses are
// skipped. When the source returns errAgain, readResponse rewinds to the
// start of the response and returns errAgain.
func (c *clientConn) readResponse(resp *response) error {
	for {
		c.mark = c.r
		if err := c.readOne(resp); err != nil {
			if err == errAgain {
				c.r = c.mark
			}
			return err
		}
		if resp.status >= 200 {
			c.used = true
			return nil
		}
	}
}

func (c *clientConn) readOne(resp *response) error {
	// Header block (RFC 9112 section 2.1): status line, fields, empty line.
	hdrEnd := -1
	for {
		if i := bytes.Index(c.buf[c.r:c.w], []byte("\r\n\r\n")); i >= 0 {
			hdrEnd = i
			break
		}
		if c.buffered() >= maxHeaderBytes {
			return errHeaderTooBig
		}
		if err := c.fill(maxHeaderBytes + maxBodyBytes); err != nil {
			if err == io.EOF && c.buffered() > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	head := c.buf[c.r : c.r+hdrEnd]
	c.r += hdrEnd + 4

	// Status line (RFC 9112 section 4): HTTP-version SP status-code SP reason.
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		return errStatusLine
	}
	resp.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	resp.close = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	resp.body = nil

	contentLength, chunked := -1, false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 {
			return errHeaderLine
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || (contentLength >= 0 && contentLength != n) {
				return errContentLength
			}
			contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiContainsFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			if asciiContainsFold(value, "close") {
				resp.close = true
			} else if asciiContainsFold(value, "keep-alive") {
				resp.close = false
			}
		}
	}

	switch {
	case resp.status < 200 || resp.status == 204 || resp.status == 304:
		return nil
	case chunked: // RFC 9112 section 6.3: chunked wins over Content-Length.
		return c.readChunked(resp)
	case contentLength >= 0:
		if contentLength > maxBodyBytes {
			return errBodyTooBig
		}
		if err := c.ensure(contentLength, maxHeaderBytes+maxBodyBytes); err != nil {
			return err
		}
		resp.body = c.buf[c.r : c.r+contentLength]
		c.r += contentLength
		return nil
	default: // body delimited by the end of the connection
		for {
			err := c.fill(maxBodyBytes)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		resp.body = c.buf[c.r:c.w]
		c.r = c.w
		resp.close = true
		return nil
	}
}

// readChunked decodes a chunked body (RFC 9112 section 7.1) into c.chunked.
func (c *clientConn) readChunked(resp *response) error {
	body := c.chunked[:0]
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 { // chunk extensions are ignored
			line = line[:i]
		}
		size, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return errChunk
		}
		if size == 0 {
			break
		}
		if len(body)+size > maxBodyBytes {
			return errBodyTooBig
		}
		if err := c.ensure(size+2, maxHeaderBytes+maxBodyBytes); err != nil {
			return err
		}
		body = append(body, c.buf[c.r:c.r+size]...)
		if c.buf[c.r+size] != '\r' || c.buf[c.r+size+1] != '\n' {
			return errChunk
		}
		c.r += size + 2
	}
	for { // trailer section ends with an empty line
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
	}
	c.chunked = body
	resp.body = body
	return nil
}

// readLine returns the next CRLF-terminated line without its CRLF.
func (c *clientConn) readLine() ([]byte, error) {
	for {
		if i := bytes.Index(c.buf[c.r:c.w], []byte("\r\n")); i >= 0 {
			line := c.buf[c.r : c.r+i]
			c.r += i + 2
			return line, nil
		}
		if c.buffered() >= maxHeaderBytes {
			return nil, errChunk
		}
		if err := c.fill(maxHeaderBytes + maxBodyBytes); err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func parseDecimal(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		if !isDigit(d) {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	return n, true
}

func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	n := 0
	for _, d := range b {
		switch {
		case isDigit(d):
			n = n*16 + int(d-'0')
		case 'a' <= d && d <= 'f':
			n = n*16 + int(d-'a'+10)
		case 'A' <= d && d <= 'F':
			n = n*16 + int(d-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// asciiEqualFold reports whether b equals the lower-case s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// asciiContainsFold reports whether b contains the lower-case s, ignoring
// case.
func asciiContainsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
