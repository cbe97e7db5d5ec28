package trace

// TraceID is a W3C trace-id: 16 bytes, valid when not all zero.
type TraceID [16]byte

// SpanID is a W3C parent-id / span id: 8 bytes, valid when not all zero.
type SpanID [8]byte

// IsValid reports whether t has a non-zero byte (W3C Trace Context §3.2.2.3:
// all zeroes is invalid).
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports whether s has a non-zero byte (§3.2.2.4).
func (s SpanID) IsValid() bool { return s != SpanID{} }

// AppendHex appends the 32 lowercase hex digits of t to dst.
func (t TraceID) AppendHex(dst []byte) []byte { return appendHex(dst, t[:]) }

// String returns the 32 lowercase hex digits of t (it allocates: not for
// the hot path).
func (t TraceID) String() string { return string(t.AppendHex(nil)) }

// AppendHex appends the 16 lowercase hex digits of s to dst.
func (s SpanID) AppendHex(dst []byte) []byte { return appendHex(dst, s[:]) }

// String returns the 16 lowercase hex digits of s.
func (s SpanID) String() string { return string(s.AppendHex(nil)) }

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// FlagSampled is the sampled bit of trace-flags (§3.2.2.5.1).
const FlagSampled byte = 0x01

// Context is the trace identity of one request as the server keeps it in
// its per-request state: fixed size, no pointers but Span.
type Context struct {
	// TraceID is the incoming trace id, else a generated one; its hex is the
	// request id.
	TraceID TraceID
	// Parent is the incoming parent-id, zero when the request had no valid
	// traceparent.
	Parent SpanID
	// Span is the request's span while it is recorded, nil when the request
	// is not sampled. It belongs to the loop until End hands it over.
	Span *Span
}

// Sampled reports whether the request's span is recorded.
func (c *Context) Sampled() bool { return c.Span != nil }

// RequestIDLen is the length of a request id: the hex of a trace id.
const RequestIDLen = 32

// AppendRequestID appends the request id (32 lowercase hex digits of the
// trace id) to dst.
func (c *Context) AppendRequestID(dst []byte) []byte { return c.TraceID.AppendHex(dst) }
