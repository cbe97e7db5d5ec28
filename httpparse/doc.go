// Package httpparse is a strict, zero-copy, incremental HTTP/1.1 request
// parser for servers that read requests straight out of a connection's
// inbound buffer.
//
// A Parser is fed the connection's unconsumed bytes. It answers with a
// complete request and the number of bytes it used, with ErrIncomplete, or
// with an *Error carrying the HTTP status to answer and whether to close.
// Bytes may arrive in any split; the parser remembers offsets, not copies,
// so a request delivered one byte at a time costs linear total work.
// Requests are views into the caller's bytes; chunked bodies are de-chunked
// into a buffer owned by the parser (or given with SetBodyBuffer) and reused,
// so there is no allocation per request after warm-up.
package httpparse
