// Package httpparse is a strict, zero-copy, incremental HTTP/1.1 request
// parser for servers that read requests straight out of a connection's
// inbound buffer.
//
// # Use
//
// A Parser is fed the connection's unconsumed bytes, starting at the first
// byte of the current request. Parse answers with a complete request and the
// number of bytes it used, with ErrIncomplete, or with an *Error carrying
// the HTTP status to answer and whether to close. Bytes may arrive in any
// split: the parser remembers offsets, not copies, and never searches the
// same bytes twice, so a request delivered one byte at a time costs linear
// total work. What follows a complete request (pipelined requests, garbage)
// is neither examined nor touched.
//
// Requests are views into the caller's bytes; chunked bodies are de-chunked
// into a buffer owned by the parser that grows
// to at most MaxBodyBytes and is reused. The header table holds MaxHeaders
// offset pairs and is reused too, so after warm-up Parse does not allocate.
// Only rejected requests allocate (one *Error).
//
// # Grammar enforced
//
// Request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF,
// exactly one SP between the parts.
//   - method is a token (RFC 9110 §9.1, §5.6.2); CONNECT is answered 501
//     (no tunnelling); a method that fills MaxHeaderBytes is 501 (§3).
//   - request-target (RFC 9112 §3.2): origin-form ("/" path ["?" query]),
//     absolute-form with scheme http or https, a non-empty host, no userinfo
//     (RFC 9110 §4.2.1, §4.2.4), and "*" for OPTIONS only (§3.2.4).
//     Only RFC 3986 characters are allowed, "%" must start a valid
//     pct-encoding (RFC 3986 §2.1), a fragment is refused. Over
//     MaxTargetBytes: 414.
//   - HTTP-version is "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3);
//     anything but 1.0 and 1.1 is 505.
//   - Empty lines (CRLF) before the request line are skipped (RFC 9112 §2.2).
//
// Lines end in CRLF; a bare LF is 400 (RFC 9112 §2.2 allows accepting it, we
// do not: it is a known desync vector). A CR not followed by LF is 400.
//
// Header section (RFC 9112 §5, RFC 9110 §5):
//   - field-name is a non-empty token, with no whitespace before the colon
//     (RFC 9112 §5.1, 400).
//   - field-value bytes are VCHAR, obs-text, SP, HTAB; NUL, CR, LF and other
//     controls are 400 (RFC 9110 §5.5). OWS around the value is trimmed.
//   - obs-fold, and whitespace before the first field line, are 400
//     (RFC 9112 §5.2, §2.2).
//   - Request line plus header section over MaxHeaderBytes, or more than
//     MaxHeaders fields: 431 (RFC 6585 §5).
//   - Host (RFC 9112 §3.2, RFC 9110 §7.2): required in HTTP/1.1, never more
//     than one, value limited to uri-host [":" port] characters; else 400.
//   - Content-Length (RFC 9112 §6.3, RFC 9110 §8.6): 1*DIGIT, no sign, no
//     list, no overflow (400); over MaxBodyBytes: 413. Repeated fields with
//     the same value are accepted as one (RFC 9110 §8.6 allows this and
//     net/http does the same; it cannot desync a peer that takes either
//     copy); differing values are 400.
//   - Transfer-Encoding (RFC 9112 §6.1, §7): with Content-Length: 400 and
//     close; in HTTP/1.0: 400; chunked not final (or absent): 400; chunked
//     twice: 400; any other coding before chunked: 501.
//   - Expect (RFC 9110 §10.1.1): "100-continue" sets Request.Expect100 (in
//     HTTP/1.1 only); any other expectation is 417.
//   - Connection (RFC 9112 §9.3): KeepAlive is true for HTTP/1.1 unless a
//     "close" option is present, and for HTTP/1.0 only with "keep-alive".
//   - traceparent and tracestate (W3C Trace Context) are noted, not judged:
//     the first traceparent value and their count, the first
//     MaxTracestateFields tracestate values and theirs
//     (Request.Traceparent, Request.Tracestate), so that a server reading
//     them on every request does not walk the fields a second time.
//
// Body (RFC 9112 §6.3): Content-Length bytes; chunked; or none (a request
// with neither has an empty body, whatever its method).
//
// Chunked coding (RFC 9112 §7.1): chunk-size is 1 to 16 HEXDIG, no sign or
// whitespace, overflow of int64 refused; chunk extensions follow the
// grammar (BWS ";" token ["=" token / quoted-string]) and are skipped;
// chunk data must be followed by CRLF; trailer fields (§7.1.2) follow the
// header field rules and are skipped. Extensions plus trailers over
// MaxChunkMetaBytes: 400 (extensions) or 431 (trailers). The body limit
// counts the de-chunked size: 413.
//
// Every error has Close set: after a rejected request the next request's
// position in the stream is unknown.
//
// # Differences from net/http
//
// FuzzDifferential feeds the same bytes to http.ReadRequest (and reads the
// body). Where both accept, method, target, version, headers, Host and body
// agree. Where only one accepts, the case must be on this allow-list
// (onlyOursRejects and onlyGoRejects in fuzz_test.go):
//
// Rejected here, accepted by http.ReadRequest:
//   - HTTP versions other than 1.0/1.1: ReadRequest accepts any HTTP/d.d and
//     leaves the 505 to its server.
//   - Bare LF line endings, obs-fold, whitespace before the colon, empty
//     field names: net/textproto is lenient (it unfolds, keeps "Name " as an
//     uncanonicalized key, skips empty names); each is a smuggling or
//     desync vector between lenient and strict peers.
//   - Request-targets with bytes outside RFC 3986, bad pct-encoding, a
//     fragment, an absolute-form scheme other than http(s), userinfo, a
//     pct-encoded or empty authority, or "*" with a method other than
//     OPTIONS: we parse only what a URI may contain.
//   - CONNECT: this server does not tunnel.
//   - Missing or malformed Host, an unsupported Expect: ReadRequest leaves
//     these to net/http's server, which answers 400 and 417 as we do.
//   - Transfer-Encoding in HTTP/1.0 (net/http ignores the field) and
//     Transfer-Encoding with Content-Length (net/http drops Content-Length):
//     both are classic smuggling set-ups, so we refuse them.
//   - Malformed chunk extensions and whitespace after a chunk size: net/http
//     ignores everything after ";" and trims trailing whitespace.
//   - Our limits (header bytes and count, target, body, chunk metadata):
//     ReadRequest has none of its own.
//
// Accepted here, rejected by http.ReadRequest:
//   - Empty lines before the request line (RFC 9112 §2.2 says SHOULD ignore).
//   - Transfer-Encoding lists with empty elements such as ",chunked" (RFC 9110
//     §5.6.1.2 says to ignore them; net/http takes only the exact value
//     "chunked").
//   - BWS before ";" in a chunk extension (allowed by RFC 9112 §7.1.1;
//     net/http refuses it).
//   - Chunk lines or trailer sections over net/http's own 4 KiB bounds but
//     within ours.
//
// # Performance
//
// A head that is well-formed and present whole goes through a fast path
// (fast.go) that does each line in one pass: method and target checked
// against the class table, header names eight bytes per branch, values a
// 64-bit word at a time (SWAR) up to the CR, the names the parser acts on
// matched as words. The fast path only accepts; anything else, and every
// error, is decided by the general line-by-line path, and the split
// invariance tests and FuzzParse hold the two to the same answers. Between
// requests only the small per-request state is reset.
//
// Measured figures (against http.ReadRequest on the same bytes, and
// byte-at-a-time feeding) are in docs/BENCHMARKS.md, "Request parser";
// BenchmarkParse, BenchmarkVersusReadRequest and BenchmarkByteByByte
// reproduce them.
package httpparse
