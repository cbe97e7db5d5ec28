package httpparse

// span is a half-open range [s, e) of offsets into the parsed bytes.
type span struct{ s, e int }

// field is one header field line: the name and the value with optional
// whitespace trimmed.
type field struct{ name, value span }

// Request is one parsed request. Every []byte field is a view: into the
// bytes given to Parser.Parse, except Body of a chunked request, which is a
// view into the parser's body buffer. Views stay valid until the next call
// of Parse or Reset on the parser that returned the request, or until the
// caller modifies those bytes. Copy what must outlive that.
type Request struct {
	// Method is the request method, a token (RFC 9110 §9.1), case preserved.
	Method []byte
	// Target is the request-target as sent: origin-form, absolute-form, or
	// "*" (RFC 9112 §3.2).
	Target []byte
	// Path is the path of the target: for origin-form everything before the
	// first "?", for absolute-form the path after the authority (possibly
	// empty), for "*" the target itself.
	Path []byte
	// RawQuery is the query after the first "?", without the "?"; empty when
	// absent.
	RawQuery []byte
	// Major and Minor are the protocol version: 1.0 or 1.1.
	Major, Minor int
	// ContentLength is the value of Content-Length, or -1 when absent.
	ContentLength int64
	// Chunked reports a Transfer-Encoding of chunked.
	Chunked bool
	// Body is the complete body (de-chunked when Chunked), empty when the
	// request has neither Content-Length nor Transfer-Encoding.
	Body []byte
	// KeepAlive reports whether the connection may be reused after this
	// request: HTTP/1.1 unless Connection has "close", HTTP/1.0 only when
	// Connection has "keep-alive" and not "close" (RFC 9112 §9.3).
	KeepAlive bool
	// Expect100 reports "Expect: 100-continue" on an HTTP/1.1 request
	// (RFC 9110 §10.1.1; ignored for HTTP/1.0).
	Expect100 bool
	// Host, ContentType, Connection, TransferEncoding and Expect are the
	// values of the first field of that name, OWS trimmed; nil when absent.
	Host, ContentType, Connection, TransferEncoding, Expect []byte

	buf          []byte
	fields       []field
	traceContext traceContext
}

// MaxTracestateFields is how many tracestate field values a request keeps
// (Request.Tracestate); further fields are counted only. W3C Trace Context
// lets a server treat a tracestate split over more fields than it takes as
// malformed.
const MaxTracestateFields = 4

// traceContext notes the W3C Trace Context fields (traceparent and
// tracestate) while the header section is parsed, so that a server reading
// them on every request does not walk the fields a second time.
type traceContext struct {
	parent  span // the first traceparent field's value
	parents int  // traceparent fields seen
	state   [MaxTracestateFields]span
	states  int // tracestate fields seen, possibly more than MaxTracestateFields
}

// Traceparent returns the value of the first traceparent field (W3C Trace
// Context; the name matched ignoring ASCII case, the value with surrounding
// whitespace removed) and the number of traceparent fields; nil and 0 when
// there is none. It reads what the parser noted while parsing: no walk over
// the fields.
func (r *Request) Traceparent() (value []byte, fields int) {
	tc := &r.traceContext
	if tc.parents == 0 {
		return nil, 0
	}
	return r.buf[tc.parent.s:tc.parent.e], tc.parents
}

// Tracestates returns the number of tracestate fields, which may exceed
// MaxTracestateFields.
func (r *Request) Tracestates() int { return r.traceContext.states }

// Tracestate returns the value of the i-th tracestate field, in the order
// received, with surrounding whitespace removed; nil when i is not below
// min(Tracestates(), MaxTracestateFields).
func (r *Request) Tracestate(i int) []byte {
	tc := &r.traceContext
	if i < 0 || i >= min(tc.states, MaxTracestateFields) {
		return nil
	}
	return r.buf[tc.state[i].s:tc.state[i].e]
}

// Header returns the value of the first header field whose name equals name
// ignoring ASCII case, with surrounding whitespace removed. It does not
// allocate.
func (r *Request) Header(name string) ([]byte, bool) {
	for _, f := range r.fields {
		n := r.buf[f.name.s:f.name.e]
		if len(n) != len(name) {
			continue
		}
		match := true
		for i := 0; i < len(n); i++ {
			if lower(n[i]) != lower(name[i]) {
				match = false
				break
			}
		}
		if match {
			return r.buf[f.value.s:f.value.e], true
		}
	}
	return nil, false
}

// VisitHeaders calls fn for every header field in the order received, with
// the name as sent and the value with surrounding whitespace removed, until
// fn returns false. Trailer fields of a chunked body are not included.
func (r *Request) VisitHeaders(fn func(name, value []byte) bool) {
	for _, f := range r.fields {
		if !fn(r.buf[f.name.s:f.name.e], r.buf[f.value.s:f.value.e]) {
			return
		}
	}
}

// NumHeaders returns the number of header fields.
func (r *Request) NumHeaders() int { return len(r.fields) }
