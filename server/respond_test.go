package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
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
