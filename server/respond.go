package server

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/trace"
)

// Content types of the replies this package writes itself.
const (
	contentJSON = "application/json"
	contentText = "text/plain; charset=utf-8"
)

// reply describes one response's head. appendReply writes the body as
// given, except with headOnly (HEAD requests, 304): then the body is omitted
// while Content-Length still describes it (RFC 9110 sections 9.3.2, 8.6).
type reply struct {
	status      int
	contentType string
	close       bool // send "Connection: close" and close after it
	keepAlive10 bool // HTTP/1.0 client asked for keep-alive: confirm it
	headOnly    bool
	allow       string // Allow header for 405
	retryAfter  int    // Retry-After seconds, 0 = none
	// etag and cacheControl describe a served file (/docs, /openapi.json):
	// when etag is set the head also carries X-Content-Type-Options.
	etag, cacheControl string
	// id is the request's trace id, written as X-Request-Id; place fills
	// it for replies made without a request (framing errors, timeouts).
	id trace.TraceID
	// span is the request's span while it is recorded (sampled requests
	// only); lp.record ends it.
	span *trace.Span
	// notes are the pricing engine's trace notes of a sampled price or
	// batch request (nil otherwise), read by lp.record.
	notes *pricer.Trace
}

// statusLine returns the pre-rendered status line of every status the
// server writes; "" for any other. A switch rather than a map: no hashing
// per reply, and no package-level table anyone could change.
func statusLine(status int) string {
	switch status {
	case 100:
		return "HTTP/1.1 100 Continue\r\n"
	case 200:
		return "HTTP/1.1 200 OK\r\n"
	case 304:
		return "HTTP/1.1 304 Not Modified\r\n"
	case 400:
		return "HTTP/1.1 400 Bad Request\r\n"
	case 404:
		return "HTTP/1.1 404 Not Found\r\n"
	case 405:
		return "HTTP/1.1 405 Method Not Allowed\r\n"
	case 408:
		return "HTTP/1.1 408 Request Timeout\r\n"
	case 413:
		return "HTTP/1.1 413 Content Too Large\r\n"
	case 414:
		return "HTTP/1.1 414 URI Too Long\r\n"
	case 415:
		return "HTTP/1.1 415 Unsupported Media Type\r\n"
	case 417:
		return "HTTP/1.1 417 Expectation Failed\r\n"
	case 422:
		return "HTTP/1.1 422 Unprocessable Content\r\n"
	case 431:
		return "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	case 500:
		return "HTTP/1.1 500 Internal Server Error\r\n"
	case 501:
		return "HTTP/1.1 501 Not Implemented\r\n"
	case 502:
		return "HTTP/1.1 502 Bad Gateway\r\n"
	case 503:
		return "HTTP/1.1 503 Service Unavailable\r\n"
	case 505:
		return "HTTP/1.1 505 HTTP Version Not Supported\r\n"
	}
	return ""
}

// Bodies of the probe routes (plain text, as the OpenAPI document says).
const (
	bodyHealthy  = "ok\n"
	bodyReady    = "ready\n"
	bodyDraining = "draining\n"
)

// continueLine is the interim reply to "Expect: 100-continue".
const continueLine = "HTTP/1.1 100 Continue\r\n\r\n"

func appendStatusLine(dst []byte, status int) []byte {
	if s := statusLine(status); s != "" {
		return append(dst, s...)
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, " Status\r\n"...)
}

// appendHeadStart appends the head of a reply up to the value of its
// Content-Length: the status line, Server, Date and Content-Type.
func appendHeadStart(dst []byte, status int, contentType string, date []byte) []byte {
	dst = appendStatusLine(dst, status)
	dst = append(dst, "Server: pricing-engine\r\nDate: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\nContent-Type: "...)
	dst = append(dst, contentType...)
	return append(dst, "\r\nContent-Length: "...)
}

// appendReply appends a complete response (head and body) to dst, its
// Date from h.
func appendReply(dst []byte, r *reply, h *heads, body []byte) []byte {
	if r.status == 200 && r.contentType == contentJSON {
		dst = append(dst, h.okJSON...) // the common head, made once per tick
	} else {
		dst = appendHeadStart(dst, r.status, r.contentType, h.date)
	}
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if r.id.IsValid() {
		dst = append(dst, "X-Request-Id: "...)
		dst = r.id.AppendHex(dst)
		dst = append(dst, "\r\n"...)
	}
	if r.close {
		dst = append(dst, "Connection: close\r\n"...)
	} else if r.keepAlive10 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	if r.allow != "" {
		dst = append(dst, "Allow: "...)
		dst = append(dst, r.allow...)
		dst = append(dst, "\r\n"...)
	}
	if r.retryAfter > 0 {
		dst = append(dst, "Retry-After: "...)
		dst = strconv.AppendInt(dst, int64(r.retryAfter), 10)
		dst = append(dst, "\r\n"...)
	}
	if r.etag != "" {
		dst = append(dst, "ETag: "...)
		dst = append(dst, r.etag...)
		dst = append(dst, "\r\nCache-Control: "...)
		dst = append(dst, r.cacheControl...)
		dst = append(dst, "\r\nX-Content-Type-Options: nosniff\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if !r.headOnly {
		dst = append(dst, body...)
	}
	return dst
}

// appendDetailBody appends {"detail":"msg"}.
func appendDetailBody(dst []byte, msg string) []byte {
	return jsonstr.AppendDetail(dst, msg)
}

// canned names a reply the server makes itself, the same on the event
// loops and on the admin listener. Its row (cannedReply) is the one place
// that says its status, its {"detail":...} text, its Retry-After and
// whether it closes the connection.
type canned uint8

const (
	cannedNotFound         canned = iota + 1 // 404: no route for the path
	cannedMethodNotAllowed                   // 405: the caller sets Allow (route.allow)
	cannedUnsupportedMedia                   // 415: the body is not JSON
	cannedOverloaded                         // 503: the pool, the waiting bound or admission control
	cannedTooManyConns                       // 503: the connection limit (OnOpen, the acceptor)
	cannedRequestTimeout                     // 408: header or body timeout
	cannedInternal                           // 500: a panic while serving (recover.go)
	cannedMalformed                          // 400: a request that cannot be framed, without a parser reason
	cannedBodyTooLarge                       // 413: admin listener, body over the limit
	cannedBodyUnreadable                     // 400: admin listener, body cannot be read
)

// cannedReply is one row of the vocabulary.
type cannedReply struct {
	status     int
	detail     string
	retryAfter int  // Retry-After seconds, 0 = none
	close      bool // the connection closes after it
}

// row returns c's row. A switch rather than a table: no package-level
// state anyone could change.
func (c canned) row() cannedReply {
	switch c {
	case cannedNotFound:
		return cannedReply{status: 404, detail: "Not Found"}
	case cannedMethodNotAllowed:
		return cannedReply{status: 405, detail: "Method Not Allowed"}
	case cannedUnsupportedMedia:
		return cannedReply{status: 415, detail: "unsupported Content-Type: expected application/json"}
	case cannedOverloaded:
		return cannedReply{status: 503, detail: "server overloaded: try again shortly", retryAfter: 1}
	case cannedTooManyConns:
		return cannedReply{status: 503, detail: "too many connections", retryAfter: 1, close: true}
	case cannedRequestTimeout:
		return cannedReply{status: 408, detail: "request timeout", close: true}
	case cannedInternal:
		return cannedReply{status: 500, detail: "internal server error", close: true}
	case cannedMalformed:
		return cannedReply{status: 400, detail: "malformed request", close: true}
	case cannedBodyTooLarge:
		return cannedReply{status: 413, detail: "request body too large"}
	case cannedBodyUnreadable:
		return cannedReply{status: 400, detail: "cannot read request body"}
	}
	return cannedReply{status: 500, detail: "internal server error", close: true}
}

// apply makes rep the head of c (status, JSON, Retry-After; a closing c
// sets close, a keep-alive one leaves rep's close as it was) and appends
// c's body to dst.
func (c canned) apply(rep *reply, dst []byte) []byte {
	r := c.row()
	rep.status, rep.retryAfter, rep.contentType = r.status, r.retryAfter, contentJSON
	rep.close = rep.close || r.close
	return appendDetailBody(dst, r.detail)
}

// answerCanned answers the request being served on the loop with c.
func (cn *conn) answerCanned(out []byte, rep *reply, c canned, method, endpoint string) []byte {
	lp := cn.lp
	lp.body = c.apply(rep, lp.body[:0])
	return cn.answer(out, rep, lp.body, method, endpoint)
}

// writeCanned answers an admin-listener request with c (the caller sets
// Allow for a 405).
func writeCanned(w http.ResponseWriter, c canned) {
	r := c.row()
	if r.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(r.retryAfter))
	}
	if r.close {
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, r.status, appendDetailBody(nil, r.detail))
}

// dateCache holds the current IMF-fixdate for the Date header, and the
// head of a 200 JSON reply carrying it, refreshed by the server's ticker
// so that the hot path only loads a pointer.
type dateCache struct {
	v atomic.Pointer[heads]
}

// heads is what dateCache holds for one Date value. It is read-only once
// stored.
type heads struct {
	date []byte
	// okJSON is appendHeadStart's head of a 200 application/json reply:
	// every price reply starts with it.
	okJSON []byte
}

func (d *dateCache) refresh(now time.Time) {
	h := &heads{date: now.UTC().AppendFormat(make([]byte, 0, 29), "Mon, 02 Jan 2006 15:04:05 GMT")}
	h.okJSON = appendHeadStart(nil, 200, contentJSON, h.date)
	d.v.Store(h)
}

func (d *dateCache) get() *heads {
	return d.v.Load()
}
