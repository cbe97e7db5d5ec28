package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricer"
	"github.com/pricing-engine/pricing-engine/trace"
)

// handler is the gnet event handler. One handler serves every loop; state
// that belongs to one loop lives in a loop value found through the
// connection.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server

	// waiting counts price requests waiting on lookups, for the cap
	// Config.MaxWaiting (complete.go).
	waiting atomic.Int64
}

var _ gnet.EventHandler = (*handler)(nil)

// loop is the state of one event loop: scratch buffers, its pricing
// handle and the list of its connections for the timeout scan. Only that
// loop's goroutine touches it.
type loop struct {
	srv  *Server
	el   gnet.EventLoop
	out  *bytebufferpool.ByteBuffer // replies for the connection being served
	tmp  []byte                     // one reply being built
	body []byte                     // one reply body being built
	pl   pricer.Loop                // decoder, lookups, demand counts, batches
	// inline carries the requests priced on the loop (an instant
	// engine): each reply is written before the next request is served.
	inline pricer.Exchange
	// inlineTrace is inline.Trace(), bound once.
	inlineTrace *pricer.Trace
	// durations are the loop's request-duration observers: counts it
	// owns, merged with the other loops' at scrape time.
	durations *metrics.RequestLoop
	// replied holds the duration observers of the replies made in the
	// current OnTraffic; observeReplies records them all with one clock
	// read when the replies are about to be written.
	replied []repliedObs
	conns   []*conn
	dead    []*conn // scratch for scan
	now     time.Time

	// Request identity and tracing (trace.go): the loop's id generator
	// and span recorder, its half of the access log (nil when off), and
	// the path of the request being served (a view, valid during serve).
	tl         *trace.Loop
	al         *trace.AccessLogLoop
	path       []byte
	exemplarAt int64 // when the loop last recorded an exemplar (Unix ns)
	// reqID is the id of the request being served (zero between
	// requests), for the log line of a panic; debug caches whether the
	// logger writes debug lines (failed requests, with their ids).
	reqID trace.TraceID
	debug bool

	// The asynchronous lookup path (complete.go).
	flushQueued bool                // a flush task is queued
	completions atomic.Pointer[job] // stack of jobs whose Call is done; pushed from any goroutine
	pumpQueued  atomic.Bool         // a drain task is queued (pump)
	inTurn      atomic.Bool         // drain runs: pushes need not pump
	touched     []*conn             // connections with completions in the current drain
	adm         admission           // admission control on queueing delay (admission.go)
	free        []*job              // jobs for reuse (job.go)
	shedCount   prometheus.Counter  // rejections by admission control, resolved once

	scanRun  gnet.Runnable
	flushRun gnet.Runnable
	drainRun gnet.Runnable

	// Fairness between connections (fair.go) and the loop's epoll set
	// (budget.go).
	ep           loopPoller
	runq         []*conn // parked connections, served from runqHead on
	runqHead     int
	runScheduled bool // runQueued is queued on the loop
	inRun        bool // runQueued is running
	runRun       gnet.Runnable
	peek         [8]unix.EpollEvent
}

func (s *Server) loopFor(el gnet.EventLoop) *loop {
	if v, ok := s.loops.Load(el); ok {
		return v.(*loop)
	}
	lp := &loop{
		srv:       s,
		el:        el,
		out:       bytebufferpool.Get(),
		durations: s.metrics.NewRequestLoop(),
	}
	lp.pl = s.engine.NewLoop()
	lp.pl.SetPump(lp.pump)
	lp.pl.SetHost(lp)
	lp.inline = s.engine.NewExchange(nil)
	lp.inlineTrace = lp.inline.Trace()
	lp.debug = s.log.Enabled(context.Background(), slog.LevelDebug)
	lp.tl = s.deps.Tracer.NewLoop()
	if s.deps.AccessLog != nil {
		lp.al = s.deps.AccessLog.NewLoop()
	}
	lp.scanRun = gnet.RunnableFunc(func(context.Context) error { lp.scan(); return nil })
	lp.flushRun = gnet.RunnableFunc(func(context.Context) error { lp.flush(); return nil })
	lp.drainRun = gnet.RunnableFunc(func(context.Context) error { lp.drain(); return nil })
	lp.runRun = gnet.RunnableFunc(func(context.Context) error { lp.runQueued(); return nil })
	v, _ := s.loops.LoadOrStore(el, lp)
	return v.(*loop)
}

// OnBoot records the engine so the server can stop it.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.srv.booted(eng)
	return gnet.None
}

// OnOpen sets up a connection's state, or refuses it when the server is at
// its connection limit.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if p, ok := gc.Context().(*peer); ok {
		p.opened(gc)
		return nil, gnet.None
	}
	s := h.srv
	if n := s.conns.Add(1); n > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		s.metrics.Rejected(metrics.RejectConnLimit).Inc()
		return s.connLimitReply(), gnet.Close
	}
	s.metrics.ConnectionsOpen().Inc()
	lp := s.loopFor(gc.EventLoop())
	cn := &conn{
		gc:         gc,
		lp:         lp,
		pending:    make([]*job, 0, s.cfg.MaxPipeline),
		idx:        len(lp.conns),
		lastActive: time.Now().UnixNano(),
		p:          httpparse.NewParser(s.cfg.Limits),
	}
	lp.conns = append(lp.conns, cn)
	gc.SetContext(cn)
	return nil, gnet.None
}

// OnClose forgets the connection. Jobs still waiting on lookups or running
// on the pool finish on their own; their completions find the connection
// closed.
func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	cn, ok := gc.Context().(*conn)
	if !ok {
		if p, ok := gc.Context().(*peer); ok {
			p.ended(err)
		}
		return gnet.None // refused in OnOpen
	}
	s := h.srv
	s.conns.Add(-1)
	s.metrics.ConnectionsOpen().Dec()
	cn.closed = true
	if lp := cn.lp; !lp.inRun && lp.runqHead != len(lp.runq) {
		lp.scheduleRun() // the run queue may have yielded to this event (fair.go)
	}
	lp := cn.lp
	last := len(lp.conns) - 1
	lp.conns[cn.idx] = lp.conns[last]
	lp.conns[cn.idx].idx = cn.idx
	lp.conns[last] = nil
	lp.conns = lp.conns[:last]
	cn.dropPending()
	gc.SetContext(nil)
	return gnet.None
}

// OnTick refreshes the Date header and asks every loop to check timeouts.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.srv.tick()
	return h.srv.cfg.TickInterval, gnet.None
}

// resumeConn runs on the loop after jobs of the connection finished (from
// drain, or as the callback of a metrics job's empty AsyncWritev): it does
// what OnTraffic does, and applies the action itself since gnet does not
// for callbacks.
func (h *handler) resumeConn(gc gnet.Conn, err error) error {
	if err != nil {
		return nil // the connection closed meanwhile
	}
	if h.OnTraffic(gc) == gnet.Close {
		return gc.EventLoop().Close(gc)
	}
	return nil
}

// OnTraffic is called when bytes arrive and when finished jobs resume the
// connection. It moves finished replies out, reads as many complete
// requests as the pipeline bound allows, and writes everything in one call.
func (h *handler) OnTraffic(gc gnet.Conn) (action gnet.Action) {
	cn, ok := gc.Context().(*conn)
	if !ok || cn.closed {
		if p, ok := gc.Context().(*peer); ok {
			return p.traffic()
		}
		return gnet.Close
	}
	if cn.lingerSince != 0 {
		// Closing: what the client still sends is discarded; its EOF
		// or the scan ends the connection.
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	lp := cn.lp
	lp.now = time.Now()
	cn.lastActive = lp.now.UnixNano()
	out := lp.out.B[:0]
	lp.out.B = out

	defer func() {
		if r := recover(); r != nil {
			action = cn.recovered(r)
		}
		lp.observeReplies() // after a panic: the replies made before it, and its 500
	}()

	if !lp.inRun && lp.runqHead != len(lp.runq) {
		lp.scheduleRun() // after a yield to this connection (fair.go)
	}
	out = cn.flush(out)
	lp.out.B = out
	if !cn.closing {
		out = cn.readRequests(out)
	}
	lp.observeReplies()
	if len(out) > 0 {
		if cn.parked && gc.OutboundBuffered() == 0 {
			_, _ = gc.Write(out)
			if !cn.closed && gc.OutboundBuffered() > 0 {
				// gnet queued the rest and re-armed reading and
				// writing: keep the connection parked.
				cn.setInterest(0)
			}
		} else {
			_, _ = gc.Write(out)
		}
	}
	lp.out.B = out[:0]
	if cn.closed {
		return gnet.None // the write failed and gnet closed it
	}
	if cn.closing && len(cn.pending) == 0 {
		return cn.linger()
	}
	return gnet.None
}

// recovered handles a panic raised while serving cn on its loop: it logs
// the panic with its stack, answers the request being served 500 (after
// the replies built before it, in order) and closes the connection once
// those replies are out. Other connections are not affected.
func (cn *conn) recovered(r any) gnet.Action {
	lp := cn.lp
	// The request being served when the panic came: its id is in the
	// log line and on the 500.
	id := lp.reqID
	if !id.IsValid() {
		id = lp.tl.IDs().TraceID()
	}
	lp.srv.panicked(r, remoteString(cn.gc), id.String())
	out := lp.out.B // the replies built before the panicking request
	if !cn.closing {
		out = cn.answerCanned(out, &reply{id: id}, cannedInternal, "other", endpointUnknown)
	}
	cn.closing = true
	if len(out) > 0 {
		_, _ = cn.gc.Write(out)
	}
	lp.out.B = out[:0]
	if cn.closed {
		return gnet.Close
	}
	if len(cn.pending) == 0 {
		return cn.linger()
	}
	return gnet.None // close once the replies before the 500 are out
}

// flush moves finished replies at the head of the queue to out.
func (cn *conn) flush(out []byte) []byte {
	for len(cn.pending) > 0 && cn.pending[0].done.Load() {
		j := cn.pending[0]
		out = append(out, j.bb.B...)
		closeAfter := j.close
		n := copy(cn.pending, cn.pending[1:])
		cn.pending[n] = nil
		cn.pending = cn.pending[:n]
		cn.lp.releaseJob(j)
		if closeAfter {
			// Nothing after a closing reply may be sent (RFC 9112
			// section 9.6); replies still running are dropped.
			cn.closing = true
			cn.dropPending()
			break
		}
	}
	return out
}

// readRequests parses and serves the buffered requests, in order.
func (cn *conn) readRequests(out []byte) []byte {
	s := cn.lp.srv
	if cn.gc.OutboundBuffered() > s.cfg.MaxOutboundBytes {
		// Back-pressure: the client is not reading its replies, so no
		// more of its requests are read, nor its socket (budget.go);
		// reading resumes once its output drains (gnet, or the loop's
		// scan), and the connection is closed if it does not drain
		// within WriteTimeout.
		cn.throttled = true
		cn.parked = false // leaves the run queue until the output drains
		cn.pauseReading()
		cn.checkInbound()
		return out
	}
	cn.throttled = false
	data, _ := cn.gc.Peek(-1)
	if len(data) > 0 {
		cn.seenBytes = true
	}
	off := 0
	// One turn serves at most turnRequests requests (fair.go) and builds
	// at most MaxOutboundBytes of replies (budget.go); what is left is
	// served in a later turn.
	passOut := s.cfg.MaxOutboundBytes
	turn := turnRequests
	if lp := cn.lp; !lp.inRun && lp.runqHead != len(lp.runq) {
		// Connections already wait in the run queue: a connection
		// that became readable serves a few requests now and joins
		// them for the rest (fair.go).
		turn = busyTurnRequests
	}
	served := 0
	more := false
	for off < len(data) && !cn.closing && len(cn.pending) < s.cfg.MaxPipeline {
		if len(out) >= passOut || (served == turn && cn.canPark()) {
			more = true
			break
		}
		if cn.reqStart == 0 && !startsRequest[data[off]] {
			// The parser waits for the end of the request line before
			// judging the method, so bytes that cannot start a request
			// (binary, TLS, a body overrunning its Content-Length)
			// would only meet the header timeout. Refuse them now.
			out = cn.parseError(out, errBadStart)
			break
		}
		n, err := cn.p.Parse(data[off:])
		if err != nil {
			if errors.Is(err, httpparse.ErrIncomplete) {
				out = cn.incomplete(out)
				break
			}
			out = cn.parseError(out, err)
			break
		}
		out = cn.serve(out, cn.p.Request())
		cn.lp.reqID = trace.TraceID{} // set by serve for a panic's log line
		served++
		// Record progress: if a later request panics, the replies
		// built so far still go out before its 500.
		cn.lp.out.B = out
		off += n
		cn.reqStart, cn.headDone, cn.sentContinue = 0, 0, false
	}
	if off > 0 {
		// Discard(0) would drop everything: only call it with progress.
		_, _ = cn.gc.Discard(off)
		// Requests are only read while the output is under its bound,
		// so new replies mean the client has been reading: the write
		// clock of loop.scan restarts.
		cn.stallSince = 0
	}
	if more && !cn.closing && !cn.park() {
		// Stopped on the output bound and the connection cannot be
		// parked: come back once this output is written (the output
		// check above then decides).
		_ = cn.gc.Wake(nil)
	}
	if len(cn.pending) >= s.cfg.MaxPipeline {
		cn.checkInbound()
	}
	return out
}

// errBadStart is the answer to bytes that cannot begin a request.
var errBadStart = &httpparse.Error{Status: 400, Close: true, Reason: "malformed request line"}

// startsRequest reports which bytes may begin a request: a method's token
// characters (RFC 9110 section 5.6.2) or the CR or LF of an empty line
// before the request line (RFC 9112 section 2.2, the parser judges those).
// It is read-only after initialisation.
var startsRequest = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~\r\n" {
		t[c] = true
	}
	return t
}()

// checkInbound bounds the unparsed bytes of a connection whose reading is
// paused (pipeline full or output throttled). gnet cannot stop reading one
// connection, so a client that keeps sending is closed once its inbound
// buffer passes MaxInboundBytes. Its pending replies are dropped: nothing
// can be said after them without overtaking them.
func (cn *conn) checkInbound() {
	s := cn.lp.srv
	if cn.closing || cn.gc.InboundBuffered() <= s.cfg.MaxInboundBytes {
		return
	}
	s.metrics.Rejected(metrics.RejectInputLimit).Inc()
	s.log.Debug("closing connection that floods a paused connection", "remote", remoteString(cn.gc),
		"inbound_bytes", cn.gc.InboundBuffered())
	cn.closing = true
	cn.dropPending()
}

// incomplete records timing for a partial request and sends 100 Continue
// when the client asked for it and every earlier reply is out.
func (cn *conn) incomplete(out []byte) []byte {
	now := cn.lp.now.UnixNano()
	if cn.reqStart == 0 {
		cn.reqStart = now
	}
	if !cn.p.HeadersComplete() {
		return out
	}
	if cn.headDone == 0 {
		cn.headDone = now
	}
	if r := cn.p.Request(); r.Expect100 && !cn.sentContinue && len(cn.pending) == 0 {
		// RFC 9110 section 10.1.1: the interim reply lets the client
		// send the body. It is only sent when it cannot overtake an
		// earlier reply.
		cn.sentContinue = true
		out = append(out, continueLine...)
	}
	return out
}

// parseError answers a request that could not be framed and closes the
// connection: after a framing error the next request's start is unknown.
func (cn *conn) parseError(out []byte, err error) []byte {
	var pe *httpparse.Error
	if !errors.As(err, &pe) {
		return cn.answerCanned(out, &reply{}, cannedMalformed, "other", endpointUnknown)
	}
	rep := reply{status: pe.Status, contentType: contentJSON, close: true}
	lp := cn.lp
	lp.body = appendDetailBody(lp.body[:0], pe.Reason)
	return cn.answer(out, &rep, lp.body, "other", endpointUnknown)
}

// answer places a reply computed on the loop and records the request's
// duration under the given labels. It runs inside OnTraffic only: the
// duration, from lp.now (when the request's bytes were read) to when the
// replies of that OnTraffic go out, is observed by observeReplies.
func (cn *conn) answer(out []byte, rep *reply, body []byte, method, endpoint string) []byte {
	out = cn.place(out, rep, body)
	lp := cn.lp
	lp.replied = append(lp.replied, repliedObs{o: lp.durations.Observer(method, endpoint, rep.status), id: rep.id, sampled: rep.span != nil})
	lp.record(cn, rep, method, endpoint, lp.path, len(body), lp.now)
	return out
}

// observeReplies records the duration of every reply made since the last
// call: one clock read for all requests of a pipelined batch, which go
// out in the same write, and one observation for each run of replies
// with the same labels (ObserveN).
func (lp *loop) observeReplies() {
	if len(lp.replied) == 0 {
		return
	}
	d := time.Since(lp.now).Seconds()
	for i := 0; i < len(lp.replied); {
		o, id, sampled := lp.replied[i].o, lp.replied[i].id, lp.replied[i].sampled
		j := i + 1
		for ; j < len(lp.replied) && lp.replied[j].o == o; j++ {
			if r := lp.replied[j]; r.sampled && !sampled {
				id, sampled = r.id, true
			}
		}
		lp.observe(o, d, uint64(j-i), id, sampled)
		i = j
	}
	lp.replied = lp.replied[:0]
	if lp.al != nil {
		lp.al.Flush()
	}
}

// place queues a finished reply: straight to out when nothing is pending
// before it, otherwise as a finished job behind the running ones.
func (cn *conn) place(out []byte, rep *reply, body []byte) []byte {
	lp := cn.lp
	if rep.close {
		cn.closing = true
	}
	if !rep.id.IsValid() {
		// A reply made without a request (a framing error, a timeout)
		// still carries a request id.
		rep.id = lp.tl.IDs().TraceID()
	}
	if len(cn.pending) == 0 {
		return appendReply(out, rep, lp.srv.date.get(), body)
	}
	j := lp.getJob()
	j.bb.B = appendReply(j.bb.B[:0], rep, lp.srv.date.get(), body)
	j.close = rep.close
	j.done.Store(true)
	cn.pending = append(cn.pending, j)
	return out
}

func remoteString(gc gnet.Conn) string {
	if a := gc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}
