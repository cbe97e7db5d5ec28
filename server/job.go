package server

import (
	"net/http"
	"time"

	"github.com/valyala/bytebufferpool"
)

func (s *Server) newJob() any {
	j := &job{srv: s}
	j.run = j.execute
	j.x = s.engine.NewExchange(j.lookedUp) // bound once
	j.xr = j.x.Result()
	j.xt = j.x.Trace()
	return j
}

// maxFreeJobs bounds the jobs a loop keeps for reuse; past it released
// jobs go to the garbage collector.
const maxFreeJobs = 4096

// maxFreeJobBuffer bounds the reply buffer a free job keeps.
const maxFreeJobBuffer = 16 << 10

// getJob takes a job with an empty reply buffer from the loop's free list.
// Jobs are created, completed and released on their connection's loop, so
// the list needs no lock (and, unlike a sync.Pool, is never emptied by the
// garbage collector: the steady state allocates nothing).
func (lp *loop) getJob() *job {
	if n := len(lp.free); n > 0 {
		j := lp.free[n-1]
		lp.free[n-1] = nil
		lp.free = lp.free[:n-1]
		return j
	}
	j := lp.srv.newJob().(*job)
	j.bb = new(bytebufferpool.ByteBuffer)
	return j
}

// releaseJob returns j to the loop's free list. j must be done, never
// submitted, or an orphan whose Call is done.
func (lp *loop) releaseJob(j *job) {
	j.reset()
	j.bb.B = j.bb.B[:0]
	if cap(j.bb.B) > maxFreeJobBuffer {
		j.bb.B = nil // a large reply (docs): do not keep its buffer
	}
	if cap(j.xr.Body) > maxFreeJobBuffer {
		j.xr.Body = nil // a large batch reply: do not keep its buffer
	}
	if len(lp.free) < maxFreeJobs {
		lp.free = append(lp.free, j)
	}
}

// execute runs on a pool worker (metrics requests: the exposition takes
// milliseconds, far too long for an event loop): it computes the
// reply into j.bb, marks j done and wakes the connection's loop, which
// writes the reply in order.
func (j *job) execute() {
	s := j.srv
	// Waiting ends here: the job was submitted and a worker now runs it.
	s.metrics.PoolTaskStarted()
	defer func() {
		if r := recover(); r != nil {
			j.answerPanic(r)
		}
		s.metrics.Request(j.method, j.kind.endpoint(), j.rep.status).Observe(time.Since(j.start).Seconds())
		s.metrics.PoolTaskDone()
		gc := j.gc
		j.done.Store(true)
		// From here on j belongs to the loop again. An empty
		// AsyncWritev (no system call: gnet skips writev for no
		// buffers) resumes the connection (resumeConn) on the loop.
		_ = gc.AsyncWritev(nil, s.resume)
		s.jobsWG.Done()
	}()

	w := &bufferedResponse{header: make(http.Header)}
	r, _ := http.NewRequestWithContext(s.ctx, http.MethodGet, "/metrics", nil)
	if len(j.accept) > 0 {
		r.Header.Set("Accept", string(j.accept))
	}
	s.metricsHandler.ServeHTTP(w, r)
	j.closeIfDraining()
	j.rep.status = w.status()
	j.rep.contentType = w.header.Get("Content-Type")
	j.bb.B = appendReply(j.bb.B[:0], &j.rep, s.date.get(), w.body)
}

// closeIfDraining makes the reply close its connection when draining began
// while the job ran.
func (j *job) closeIfDraining() {
	if j.srv.closingConns.Load() {
		j.rep.close = true
		j.close = true
	}
}

// bufferedResponse is a minimal http.ResponseWriter that keeps the reply in
// memory, for running net/http handlers on behalf of the event loop.
type bufferedResponse struct {
	header http.Header
	code   int
	body   []byte
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *bufferedResponse) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
