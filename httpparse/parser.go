package httpparse

import (
	"bytes"
	"math"
	"net/http"
)

// state is where the parser stands in the current request.
type state uint8

const (
	stateRequestLine state = iota // before or inside the request line
	stateHeaders                  // inside the header section
	stateBody                     // waiting for a fixed-length body
	stateChunkSize                // at a chunk-size line
	stateChunkData                // inside chunk data
	stateChunkEnd                 // at the CRLF that ends chunk data
	stateTrailers                 // inside the trailer section
	stateDone                     // a request is complete
)

// maxChunkSizeDigits bounds the hexadecimal digits of a chunk size; 16
// digits hold any 64-bit value.
const maxChunkSizeDigits = 16

// Parser is an incremental request parser; not safe for concurrent use. Zero
// value is ready with DefaultLimits.
//
// The parser keeps offsets, not copies: between calls it remembers how far
// it got in the bytes it was given, so bytes delivered in any split are
// examined once (linear total work). Its only memory is a header table of
// MaxHeaders entries and the de-chunk buffer, both reused across requests.
type Parser struct {
	lim   Limits
	ready bool
	body  []byte // de-chunk buffer, reused across requests
	req   Request

	progress // the current request; reset by clear
}

// progress is the parser's state for the request in hand: offsets into the
// caller's bytes and the header facts noted so far. Keeping it apart from
// the buffers lets clear reset it with one small assignment.
type progress struct {
	st  state
	err *Error

	pos  int // offset of the first byte not yet consumed
	scan int // offset up to which the current line was searched for LF

	method, target, path, query span
	minor                       int
	headEnd                     int

	host, contentType, connection, transferEncoding, expect span
	hostCount                                               int
	traceContext                                            traceContext
	contentLength                                           int64
	clSeen, teSeen, teChunked, teOther                      bool
	connClose, connKeepAlive, expect100, expectOther        bool

	remain int64 // bytes left in the current chunk
	meta   int   // chunk extension and trailer bytes used
}

// NewParser returns a parser enforcing l (zero fields mean the default).
func NewParser(l Limits) *Parser {
	p := &Parser{lim: l}
	p.init()
	return p
}

// Limits returns the limits in force, defaults filled in.
func (p *Parser) Limits() Limits {
	if !p.ready {
		p.init()
	}
	return p.lim
}

func (p *Parser) init() {
	p.lim = p.lim.withDefaults()
	p.ready = true
	if cap(p.req.fields) < p.lim.MaxHeaders {
		p.req.fields = make([]field, 0, p.lim.MaxHeaders)
	}
	p.clear()
}

// Reset forgets any partial request (keeps limits and buffers), and clears a
// previous error.
func (p *Parser) Reset() {
	if !p.ready {
		p.init()
	}
	p.clear()
}

// clear prepares for a new request. The request's views are not reset:
// setViews overwrites every one of them before they are valid again.
func (p *Parser) clear() {
	p.progress = progress{contentLength: -1}
	p.req.fields = p.req.fields[:0]
	p.body = p.body[:0]
}

// Request returns the request completed by the last successful Parse, or the
// head of the current request once HeadersComplete reports true. The result
// and its views stay valid until the next Parse or Reset call.
func (p *Parser) Request() *Request { return &p.req }

// HeadersComplete reports whether the current (incomplete) request's header
// section is fully parsed, so the caller can decide on "100 Continue" before
// the body arrives; Request() is then valid for the head (Body is nil until
// the request is complete).
func (p *Parser) HeadersComplete() bool {
	return p.err == nil && p.st >= stateBody
}

// Parse examines buf, which holds the connection's unconsumed bytes starting
// at the first byte of the current request. Bytes given in an earlier call
// that returned ErrIncomplete must be given again, unchanged, at the same
// offsets, possibly followed by more; the parser resumes where it stopped
// (linear total work).
//
// It returns n > 0 and err == nil when a complete request occupies buf[:n];
// the request is then p.Request(), whose views stay valid until the next
// Parse/Reset call or until buf's bytes are modified; the following call
// starts a new request (the caller passes buf[n:]). Bytes after buf[:n] are
// not examined. It returns ErrIncomplete when more bytes are needed, and a
// *Error otherwise (after an *Error the parser must be Reset before reuse;
// until then Parse returns the same error).
func (p *Parser) Parse(buf []byte) (n int, err error) {
	if !p.ready {
		p.init()
	}
	if p.err != nil {
		return 0, p.err
	}
	if p.st == stateDone {
		p.clear()
	}
	if p.pos > len(buf) || p.scan > len(buf) {
		return 0, p.fail(&Error{Status: http.StatusInternalServerError, Close: true,
			Reason: "request bytes shrank between parse calls"})
	}
	if e := p.run(buf); e != nil {
		return 0, p.fail(e)
	}
	if p.st >= stateBody {
		p.setViews(buf)
	}
	if p.st != stateDone {
		return 0, ErrIncomplete
	}
	return p.pos, nil
}

func (p *Parser) fail(e *Error) *Error {
	p.err = e
	return e
}

// run advances the state machine over buf as far as it can. It returns nil
// both when the request is complete and when more bytes are needed. Each
// state's method reports whether it made progress (false: more bytes are
// needed, or the request is done).
func (p *Parser) run(buf []byte) *Error {
	for {
		var ok bool
		var err *Error
		switch p.st {
		case stateRequestLine, stateHeaders:
			if p.scan == p.pos {
				if err := p.fastHead(buf); err != nil {
					return err
				}
				if p.st > stateHeaders {
					continue
				}
			}
			ok, err = p.headStep(buf)
		case stateBody:
			ok = p.fixedBody(buf)
		case stateChunkSize:
			ok, err = p.chunkSize(buf)
		case stateChunkData:
			ok = p.chunkData(buf)
		case stateChunkEnd:
			ok, err = p.chunkEnd(buf)
		case stateTrailers:
			ok, err = p.trailerLine(buf)
		default: // stateDone
			return nil
		}
		if err != nil || !ok {
			return err
		}
	}
}

// fastHead runs the fast path (fast.go) over as much of the request line
// and the header section as it recognises; the common request is parsed
// by it alone.
func (p *Parser) fastHead(buf []byte) *Error {
	limit := min(len(buf), p.lim.MaxHeaderBytes)
	if p.st == stateRequestLine {
		p.fastRequestLine(buf, limit)
	}
	if p.st == stateHeaders && p.scan == p.pos {
		return p.fastFields(buf, limit)
	}
	return nil
}

// headStep takes one line of the request line or the header section by
// the general path, where the fast path stopped.
func (p *Parser) headStep(buf []byte) (bool, *Error) {
	s, e, ok, err := p.headLine(buf)
	if err != nil || !ok {
		return false, err
	}
	switch {
	case p.st == stateRequestLine && s == e:
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line
		// received before the request-line.
		return true, nil
	case p.st == stateRequestLine:
		if err := p.requestLine(buf, s, e); err != nil {
			return false, err
		}
		p.st = stateHeaders
		return true, nil
	case s == e:
		return true, p.endHead(buf)
	}
	return true, p.headerLine(buf, s, e)
}

// fixedBody completes a request whose Content-Length bytes have all arrived.
func (p *Parser) fixedBody(buf []byte) bool {
	end := p.headEnd + int(p.contentLength)
	if len(buf) < end {
		return false
	}
	p.pos = end
	p.st = stateDone
	return true
}

// findLine looks for the LF that ends the line starting at p.pos, searching
// only buf[:window] and never bytes already searched. It returns the line
// without its CRLF as buf[s:e]. When there is no LF in buf[:window], more is
// true if buf is shorter than window (more bytes may bring the LF).
func (p *Parser) findLine(buf []byte, window int) (s, e int, ok, more bool, err *Error) {
	limit := min(len(buf), window)
	if p.scan < p.pos {
		p.scan = p.pos
	}
	if p.scan >= limit {
		return 0, 0, false, len(buf) < window, nil
	}
	i := bytes.IndexByte(buf[p.scan:limit], '\n')
	if i < 0 {
		p.scan = limit
		return 0, 0, false, len(buf) < window, nil
	}
	lf := p.scan + i
	// RFC 9112 §2.2: a bare LF as line terminator is rejected here (the
	// RFC allows recipients to accept it; we do not, see the package doc).
	if lf == p.pos || buf[lf-1] != '\r' {
		return 0, 0, false, false, errBad("bare lf line ending")
	}
	s, e = p.pos, lf-1
	p.pos = lf + 1
	p.scan = p.pos
	return s, e, true, false, nil
}

// headLine returns the next line of the request line or header section.
// RFC 9112 §2.3 lets a server bound the header section: the whole of it,
// including leading empty lines and the final CRLF, must end within the
// first MaxHeaderBytes bytes.
func (p *Parser) headLine(buf []byte) (s, e int, ok bool, err *Error) {
	s, e, ok, more, err := p.findLine(buf, p.lim.MaxHeaderBytes)
	if ok || err != nil || more {
		return s, e, ok, err
	}
	return 0, 0, false, p.headTooLarge(buf)
}

// headTooLarge picks the status for a head that does not end within
// MaxHeaderBytes, judging only by the bytes within that window so that the
// answer does not depend on how the bytes were split.
func (p *Parser) headTooLarge(buf []byte) *Error {
	if p.st != stateRequestLine {
		return errHeaderTooLarge("header section too large")
	}
	line := buf[p.pos:min(len(buf), p.lim.MaxHeaderBytes)]
	i := 0
	for i < len(line) && line[i] != ' ' {
		if !isToken(line[i]) {
			return errBad("invalid method")
		}
		i++
	}
	if i == len(line) {
		// RFC 9112 §3: a method longer than any implemented gets 501.
		return errNotImplemented("method too long")
	}
	if bytes.IndexByte(line[i+1:], ' ') < 0 {
		// RFC 9112 §3: a request-target longer than the server will parse
		// gets 414.
		return errURITooLong("request target too long")
	}
	return errBad("malformed request line")
}

// requestLine parses buf[s:e], the request line without CRLF (RFC 9112 §3):
//
//	request-line = method SP request-target SP HTTP-version
func (p *Parser) requestLine(buf []byte, s, e int) *Error {
	line := buf[s:e]
	i := 0
	for i < len(line) && line[i] != ' ' {
		if !isToken(line[i]) { // RFC 9110 §9.1: method = token
			return errBad("invalid method")
		}
		i++
	}
	if i == 0 || i == len(line) {
		return errBad("malformed request line")
	}
	method := line[:i]
	if string(method) == http.MethodConnect {
		// CONNECT needs authority-form and tunnelling: not offered.
		return errNotImplemented("connect is not supported")
	}
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return errBad("malformed request line")
	}
	if j > p.lim.MaxTargetBytes {
		return errURITooLong("request target too long")
	}
	ts := s + i + 1
	if err := p.requestTarget(buf, ts, ts+j, string(method) == http.MethodOptions); err != nil {
		return err
	}
	// RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, case-sensitive.
	v := rest[j+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9' {
		return errBad("malformed http version")
	}
	if v[5] != '1' || v[7] > '1' {
		return errVersion("http version not supported")
	}
	p.method = span{s, s + i}
	p.minor = int(v[7] - '0')
	return nil
}

// requestTarget checks buf[s:e] against RFC 9112 §3.2 and records the
// target, path and query:
//
//	request-target = origin-form / absolute-form / asterisk-form
//	origin-form    = absolute-path [ "?" query ]
//	absolute-form  = absolute-URI (here: "http" or "https" with a host)
//	asterisk-form  = "*" (OPTIONS only, RFC 9112 §3.2.4)
//
// authority-form (CONNECT) is refused earlier.
func (p *Parser) requestTarget(buf []byte, s, e int, options bool) *Error {
	t := buf[s:e]
	p.target = span{s, e}
	switch {
	case len(t) == 0:
		return errBad("empty request target")
	case t[0] == '/':
		return p.pathQuery(buf, s, e)
	case len(t) == 1 && t[0] == '*':
		if !options {
			return errBad("asterisk target is only for options")
		}
		p.setPathQuery(s, e, -1)
		return nil
	}
	// absolute-form, RFC 9112 §3.2.2 and RFC 9110 §4.2.
	var rest int
	switch {
	case len(t) > 7 && equalFold(t[:7], "http://"):
		rest = 7
	case len(t) > 8 && equalFold(t[:8], "https://"):
		rest = 8
	default:
		return errBad("invalid request target")
	}
	a := s + rest
	i, ok := authorityEnd(buf, a, e)
	if !ok {
		return errBad("invalid request target")
	}
	if i == e {
		p.setPathQuery(e, e, -1)
		return nil
	}
	return p.pathQuery(buf, i, e)
}

// authorityEnd checks the authority of an absolute-form target starting at
// buf[a] and returns where it ends (at "/", "?" or e):
//
//	authority = host [ ":" port ]   (no userinfo: RFC 9110 §4.2.4)
//	host      = IP-literal / reg-name (not empty: RFC 9110 §4.2.1)
//
// pct-encoded octets in reg-name are refused (see the package doc).
func authorityEnd(buf []byte, a, e int) (int, bool) {
	i := a
	if i < e && buf[i] == '[' {
		i++
		for i < e && (isHex(buf[i]) || buf[i] == ':' || buf[i] == '.') {
			i++
		}
		if i == a+1 || i == e || buf[i] != ']' {
			return 0, false
		}
		i++
	} else {
		for i < e && isHost(buf[i]) && buf[i] != '%' && buf[i] != ':' && buf[i] != '[' && buf[i] != ']' {
			i++
		}
		if i == a {
			return 0, false
		}
	}
	if i < e && buf[i] == ':' {
		i++
		for i < e && buf[i] >= '0' && buf[i] <= '9' {
			i++
		}
	}
	if i < e && buf[i] != '/' && buf[i] != '?' {
		return 0, false
	}
	return i, true
}

// pathQuery checks buf[s:e], a path optionally followed by "?" query, and
// records path and query.
func (p *Parser) pathQuery(buf []byte, s, e int) *Error {
	n, q := targetRun(buf[s:e])
	if n != e-s {
		return errBad("invalid request target")
	}
	p.setPathQuery(s, e, q)
	return nil
}

// targetRun returns the length n of the run of origin-form target bytes at
// the start of b and the offset q of the first "?" in it (-1 if none).
// Allowed: pchar, "/" and, in the query, "?" (RFC 3986 §3.3, §3.4); "%"
// must start a pct-encoded octet (RFC 3986 §2.1). A fragment is not part of
// a request-target.
func targetRun(b []byte) (n, q int) {
	q = -1
	i := 0
	for i < len(b) {
		c := b[i]
		if isTarget(c) {
			if c == '?' && q < 0 {
				q = i
			}
			i++
			continue
		}
		if c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			i += 3
			continue
		}
		break
	}
	return i, q
}

// setPathQuery records the path and query of the target buf[s:e] whose
// first "?" is at s+q (q < 0: none).
func (p *Parser) setPathQuery(s, e, q int) {
	if q < 0 {
		p.path = span{s, e}
		p.query = span{e, e}
	} else {
		p.path = span{s, s + q}
		p.query = span{s + q + 1, e}
	}
}

// fieldLine checks buf[s:e], a field line without CRLF (RFC 9112 §5,
// RFC 9110 §5):
//
//	field-line = field-name ":" OWS field-value OWS
//
// and returns the name and the trimmed value.
func fieldLine(buf []byte, s, e int) (name, value span, err *Error) {
	if c := buf[s]; c == ' ' || c == '\t' {
		// RFC 9112 §5.2: obs-fold is rejected with 400; RFC 9112 §2.2:
		// whitespace before the first field line is rejected too.
		return name, value, errBad("obsolete line folding")
	}
	i := s + tokenRun(buf[s:e]) // RFC 9110 §5.1: field-name = token
	switch {
	case i == e:
		return name, value, errBad("missing colon in header line")
	case buf[i] == ':':
	case buf[i] == ' ' || buf[i] == '\t':
		// RFC 9112 §5.1: no whitespace between field name and colon, 400.
		return name, value, errBad("whitespace before colon")
	default:
		return name, value, errBad("invalid header name")
	}
	if i == s {
		return name, value, errBad("empty header name")
	}
	name = span{s, i}
	vs, ve := i+1, e
	// RFC 9110 §5.5: field-content is VCHAR, obs-text, SP and HTAB; CR,
	// LF, NUL and other controls are rejected.
	if !validValue(buf[vs:ve]) {
		return name, value, errBad("invalid byte in header value")
	}
	return name, owsTrimmed(buf, vs, ve), nil
}

// owsTrimmed returns the span of buf[s:e] without its leading and trailing
// optional whitespace (SP and HTAB, RFC 9110 §5.6.3).
func owsTrimmed(buf []byte, s, e int) span {
	for s < e && (buf[s] == ' ' || buf[s] == '\t') {
		s++
	}
	for e > s && (buf[e-1] == ' ' || buf[e-1] == '\t') {
		e--
	}
	return span{s, e}
}

// headerLine parses one header field line and applies it.
func (p *Parser) headerLine(buf []byte, s, e int) *Error {
	name, value, err := fieldLine(buf, s, e)
	if err != nil {
		return err
	}
	return p.addField(buf, name, value)
}

// addField records one header field and notes the fields the parser itself
// acts on.
func (p *Parser) addField(buf []byte, name, value span) *Error {
	if len(p.req.fields) >= p.lim.MaxHeaders {
		return errHeaderTooLarge("too many header fields")
	}
	p.req.fields = append(p.req.fields, field{name, value})
	n, v := buf[name.s:name.e], buf[value.s:value.e]
	// Names of 8 bytes or more are compared as overlapping words (fold8).
	switch len(n) {
	case 4:
		if foldEqual(n, "host") {
			p.hostCount++
			if p.hostCount == 1 {
				p.host = value
			}
		}
	case 6:
		if foldEqual(n, "expect") {
			if p.expect.e == 0 {
				p.expect = value
			}
			// RFC 9110 §10.1.1: 100-continue is the only expectation.
			if foldEqual(v, "100-continue") {
				p.expect100 = true
			} else {
				p.expectOther = true
			}
		}
	case 10:
		if fold8(n, "connecti") && fold8(n[2:], "nnection") {
			if p.connection.e == 0 {
				p.connection = value
			}
			p.connectionOptions(v)
		} else if fold8(n, "tracesta") && fold8(n[2:], "acestate") {
			tc := &p.traceContext
			if tc.states < MaxTracestateFields {
				tc.state[tc.states] = value
			}
			tc.states++
		}
	case 11:
		if fold8(n, "tracepar") && fold8(n[3:], "ceparent") {
			tc := &p.traceContext
			if tc.parents == 0 {
				tc.parent = value
			}
			tc.parents++
		}
	case 12:
		if fold8(n, "content-") && fold8(n[4:], "ent-type") && p.contentType.e == 0 {
			p.contentType = value
		}
	case 14:
		if fold8(n, "content-") && fold8(n[6:], "t-length") {
			return p.contentLengthField(v)
		}
	case 17:
		if fold8(n, "transfer") && fold8(n[8:], "-encodin") && fold8(n[9:], "encoding") {
			if !p.teSeen {
				p.transferEncoding = value
			}
			p.teSeen = true
			return p.transferCodings(v)
		}
	}
	return nil
}

// contentLengthField applies one Content-Length field (RFC 9112 §6.3,
// RFC 9110 §8.6): Content-Length = 1*DIGIT. Repeated fields with the same
// value count as one; differing values are rejected. A list in one field
// ("5, 5") is rejected.
func (p *Parser) contentLengthField(v []byte) *Error {
	if len(v) == 0 {
		return errBad("invalid content-length")
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return errBad("invalid content-length")
		}
		if n > (math.MaxInt64-9)/10 {
			return errBad("content-length overflows")
		}
		n = n*10 + int64(c-'0')
	}
	if p.clSeen && n != p.contentLength {
		return errBad("conflicting content-length values")
	}
	p.clSeen = true
	p.contentLength = n
	return nil
}

// nextListElem splits the first element off a comma-separated field value
// (RFC 9110 §5.6.1), optional whitespace trimmed; elem may be empty.
func nextListElem(v []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:]
	}
	return trimOWS(v), nil
}

// transferCodings applies one Transfer-Encoding field (RFC 9112 §6.1, §7):
// chunked must be the final coding and appear once.
func (p *Parser) transferCodings(v []byte) *Error {
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		if len(elem) == 0 {
			continue // RFC 9110 §5.6.1.2: ignore empty list elements
		}
		if p.teChunked {
			if foldEqual(elem, "chunked") {
				return errBad("chunked applied more than once")
			}
			return errBad("chunked is not the final transfer coding")
		}
		if foldEqual(elem, "chunked") {
			p.teChunked = true
		} else {
			p.teOther = true
		}
	}
	return nil
}

// connectionOptions notes the close and keep-alive options of one
// Connection field (RFC 9110 §7.6.1, RFC 9112 §9.3).
func (p *Parser) connectionOptions(v []byte) {
	// The common single option first.
	switch {
	case foldEqual(v, "keep-alive"):
		p.connKeepAlive = true
		return
	case foldEqual(v, "close"):
		p.connClose = true
		return
	}
	for len(v) > 0 {
		var elem []byte
		elem, v = nextListElem(v)
		switch {
		case foldEqual(elem, "close"):
			p.connClose = true
		case foldEqual(elem, "keep-alive"):
			p.connKeepAlive = true
		}
	}
}

// endHead applies the rules that need the whole header section and picks
// how the body is framed (RFC 9112 §6.3).
func (p *Parser) endHead(buf []byte) *Error {
	p.headEnd = p.pos
	// RFC 9112 §3.2: an HTTP/1.1 request without Host, or any request with
	// more than one, gets 400.
	if p.hostCount == 0 && p.minor == 1 {
		return errBad("missing host header")
	}
	if p.hostCount > 1 {
		return errBad("multiple host headers")
	}
	if p.hostCount == 1 {
		for _, c := range buf[p.host.s:p.host.e] {
			if !isHost(c) { // RFC 9110 §7.2: Host = uri-host [ ":" port ]
				return errBad("invalid host header")
			}
		}
	}
	if p.teSeen {
		if p.minor == 0 {
			// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be
			// trusted; we reject it outright.
			return errBad("transfer-encoding in http/1.0 request")
		}
		if p.clSeen {
			// RFC 9112 §6.1: both present is a smuggling attempt; reject
			// and close.
			return errBad("both content-length and transfer-encoding")
		}
		if !p.teChunked {
			// RFC 9112 §6.3 rule 4: chunked must be final, else 400.
			return errBad("chunked is not the final transfer coding")
		}
		if p.teOther {
			// RFC 9112 §6.1: a coding we do not implement gets 501.
			return errNotImplemented("unsupported transfer coding")
		}
	}
	if p.contentLength > p.lim.MaxBodyBytes {
		return errTooLarge("request body too large")
	}
	if p.expectOther {
		return errExpectation("unsupported expectation")
	}
	switch {
	case p.teChunked:
		p.st = stateChunkSize
		p.scan = p.pos
	case p.contentLength > 0:
		p.st = stateBody
	default:
		p.st = stateDone
	}
	return nil
}

// view returns buf[sp.s:sp.e], or nil for the zero span (absent).
func view(buf []byte, sp span) []byte {
	if sp.e == 0 {
		return nil
	}
	return buf[sp.s:sp.e]
}

// setViews points the request's views at buf, which may be a different
// slice from the one the head was parsed in.
func (p *Parser) setViews(buf []byte) {
	r := &p.req
	r.buf = buf
	r.Method = buf[p.method.s:p.method.e]
	r.Target = buf[p.target.s:p.target.e]
	r.Path = buf[p.path.s:p.path.e]
	r.RawQuery = buf[p.query.s:p.query.e]
	r.Major, r.Minor = 1, p.minor
	r.ContentLength = p.contentLength
	r.Chunked = p.teChunked
	r.KeepAlive = !p.connClose && (p.minor == 1 || p.connKeepAlive)
	r.Expect100 = p.expect100 && p.minor == 1
	r.Host = view(buf, p.host)
	r.ContentType = view(buf, p.contentType)
	r.Connection = view(buf, p.connection)
	r.TransferEncoding = view(buf, p.transferEncoding)
	r.Expect = view(buf, p.expect)
	r.traceContext = p.traceContext
	switch {
	case p.st != stateDone:
		r.Body = nil
	case p.teChunked:
		r.Body = p.body
	default:
		r.Body = buf[p.headEnd:p.pos]
	}
}
