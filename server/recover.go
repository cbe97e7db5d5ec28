package server

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// The one recover path. A panic while serving a request is logged with its
// stack, counted, and answered with cannedInternal (500, closing the
// connection) after the replies before it; other connections are not
// affected. Every place that serves requests recovers through panicked:
// the event loop's OnTraffic (conn.recovered), a reply completed on the
// loop or on a pool worker (job.answerPanic), and the admin listener
// (recoverAdmin).

// panicked logs and counts v, a panic recovered while serving the
// request with id requestID ("" when unknown) of remote ("" when
// unknown). The caller answers with cannedInternal, carrying that id.
func (s *Server) panicked(v any, remote, requestID string) {
	s.log.Error("panic while serving a request; closing its connection",
		"panic", fmt.Sprint(v), "request_id", requestID, "remote", remote, "stack", string(debug.Stack()))
	s.metrics.Rejected(metrics.RejectPanic).Inc()
}

// answerPanic makes j's reply the canned 500 after a panic (v) while
// computing it; the connection closes once it is written.
func (j *job) answerPanic(v any) {
	s := j.srv
	gc := j.gc
	if j.cn != nil {
		gc = j.cn.gc
	}
	remote := ""
	if gc != nil {
		remote = remoteString(gc)
	}
	s.panicked(v, remote, j.rep.id.String())
	j.close = true
	body := cannedInternal.apply(&j.rep, nil)
	j.bb.B = appendReply(j.bb.B[:0], &j.rep, s.date.get(), body)
}

// recoverAdmin serves the admin listener through h and answers a panic
// with cannedInternal; if h had already begun its reply, the connection
// is aborted instead (http.ErrAbortHandler), as nothing sensible can
// follow half a reply.
func (s *Server) recoverAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.panicked(v, r.RemoteAddr, r.Header.Get("X-Request-Id"))
			if tw.wrote {
				panic(http.ErrAbortHandler)
			}
			writeCanned(w, cannedInternal)
		}()
		h.ServeHTTP(tw, r)
	})
}

// trackWriter remembers whether a handler began its reply.
type trackWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush passes a streaming handler's flush on.
func (w *trackWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushes and deadlines of pprof profiles).
func (w *trackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
