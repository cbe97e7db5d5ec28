package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/trace"
)

// TestCannedReplies: every canned reply is the same on the event loop
// (appendReply) and on the admin listener (writeCanned): status, JSON
// body {"detail":...}, Retry-After and Connection: close.
func TestCannedReplies(t *testing.T) {
	tests := []struct {
		c          canned
		status     int
		body       string
		retryAfter int
		close      bool
	}{
		{cannedNotFound, 404, `{"detail":"Not Found"}`, 0, false},
		{cannedMethodNotAllowed, 405, `{"detail":"Method Not Allowed"}`, 0, false},
		{cannedUnsupportedMedia, 415, `{"detail":"unsupported Content-Type: expected application/json"}`, 0, false},
		{cannedOverloaded, 503, `{"detail":"server overloaded: try again shortly"}`, 1, false},
		{cannedTooManyConns, 503, `{"detail":"too many connections"}`, 1, true},
		{cannedRequestTimeout, 408, `{"detail":"request timeout"}`, 0, true},
		{cannedInternal, 500, `{"detail":"internal server error"}`, 0, true},
		{cannedMalformed, 400, `{"detail":"malformed request"}`, 0, true},
		{cannedBodyTooLarge, 413, `{"detail":"request body too large"}`, 0, false},
		{cannedBodyUnreadable, 400, `{"detail":"cannot read request body"}`, 0, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status)+" "+tt.body, func(t *testing.T) {
			var rep reply
			body := tt.c.apply(&rep, nil)
			if rep.status != tt.status || string(body) != tt.body || rep.retryAfter != tt.retryAfter ||
				rep.close != tt.close || rep.contentType != contentJSON {
				t.Errorf("loop: %+v %s", rep, body)
			}
			keep := reply{close: true}
			tt.c.apply(&keep, nil)
			if !keep.close {
				t.Error("a canned reply cleared the request's close")
			}
			w := httptest.NewRecorder()
			writeCanned(w, tt.c)
			res := w.Result()
			ra := res.Header.Get("Retry-After")
			if res.StatusCode != tt.status || w.Body.String() != tt.body || res.Header.Get("Content-Type") != contentJSON ||
				(tt.retryAfter == 0) != (ra == "") || (tt.retryAfter > 0 && ra != strconv.Itoa(tt.retryAfter)) ||
				(res.Header.Get("Connection") == "close") != tt.close {
				t.Errorf("admin: %d %v %s", res.StatusCode, res.Header, w.Body)
			}
		})
	}
	if got := (canned(0)).row(); got.status != http.StatusInternalServerError {
		t.Errorf("an unknown canned reply is %d, want 500", got.status)
	}
}

// TestAppendReplyHeads: a 200 JSON reply starts with the head made once
// per Date refresh, every other reply with the head made per reply; both
// are the same bytes in the same order.
func TestAppendReplyHeads(t *testing.T) {
	var d dateCache
	d.refresh(time.Date(2026, 12, 7, 10, 0, 0, 0, time.FixedZone("x", 3600)))
	const date = "Date: Mon, 07 Dec 2026 09:00:00 GMT\r\n"
	id := trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}
	tests := []struct {
		name string
		rep  reply
		body string
		want string
	}{
		{"200 json", reply{status: 200, contentType: contentJSON, id: id}, "{}",
			"HTTP/1.1 200 OK\r\nServer: pricing-engine\r\n" + date + "Content-Type: application/json\r\nContent-Length: 2\r\n" +
				"X-Request-Id: 0af7651916cd43dd8448eb211c80319c\r\n\r\n{}"},
		{"200 json closing", reply{status: 200, contentType: contentJSON, close: true}, "{}",
			"HTTP/1.1 200 OK\r\nServer: pricing-engine\r\n" + date + "Content-Type: application/json\r\nContent-Length: 2\r\n" +
				"Connection: close\r\n\r\n{}"},
		{"200 text", reply{status: 200, contentType: contentText}, "ok\n",
			"HTTP/1.1 200 OK\r\nServer: pricing-engine\r\n" + date + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nok\n"},
		{"503 json", reply{status: 503, contentType: contentJSON, retryAfter: 1}, "{}",
			"HTTP/1.1 503 Service Unavailable\r\nServer: pricing-engine\r\n" + date + "Content-Type: application/json\r\nContent-Length: 2\r\n" +
				"Retry-After: 1\r\n\r\n{}"},
		{"unlisted status", reply{status: 299, contentType: contentJSON}, "",
			"HTTP/1.1 299 Status\r\nServer: pricing-engine\r\n" + date + "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendReply([]byte("x"), &tt.rep, d.get(), []byte(tt.body))); got != "x"+tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, "x"+tt.want)
			}
		})
	}
}
