package server

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// scan runs on the loop (scheduled by tick through EventLoop.Execute; gnet
// has no per-connection deadlines) and enforces the time bounds of every
// connection of the loop. Its resolution is Config.TickInterval: a timeout
// fires between its nominal time and one tick later.
//
//   - header: a partial request whose header section is not complete
//     HeaderTimeout after its first byte is answered 408 and the connection
//     closed. A new connection that sends nothing for HeaderTimeout is
//     closed without a reply (it asked nothing).
//   - body: a request whose body is not complete BodyTimeout after its
//     header section is answered 408 and the connection closed.
//   - idle: a keep-alive connection with nothing pending for IdleTimeout is
//     closed (while the server is draining: after DrainIdleGrace, since a
//     client that has just read a reply may be writing its next request;
//     busier connections get Connection: close on their next reply).
//   - write: a connection whose queued replies have made no progress for
//     WriteTimeout is closed (the client does not read).
//
// The 408 goes out in request order: behind replies still running on the
// pool, as a finished job that closes the connection once written (RFC 9110
// section 15.5.9 lets a server send 408 on a connection it is closing).
//
// Victims are collected first and closed afterwards, because closing runs
// OnClose, which edits lp.conns.
func (lp *loop) scan() {
	s := lp.srv
	ns := time.Now().UnixNano()
	draining := s.closingConns.Load()
	cfg := &s.cfg
	victims := lp.dead[:0]
	for _, cn := range lp.conns {
		if cn == nil || cn.closed {
			continue
		}
		out := cn.gc.OutboundBuffered()
		switch {
		case out == 0:
			cn.stallSince = 0
		case cn.stallSince == 0 || out < cn.lastOut:
			// Queued bytes appeared, or the client read some: the
			// write clock (re)starts.
			cn.stallSince = ns
		}
		cn.lastOut = out
		if cn.throttled {
			// The rest of a partial request may wait in the kernel
			// because reading is paused: its header and body clocks
			// restart when reading resumes (the write timeout bounds
			// a client that does not read).
			if cn.reqStart != 0 {
				cn.reqStart = ns
			}
			if cn.headDone != 0 {
				cn.headDone = ns
			}
		}
		if cn.throttled && out <= cfg.MaxOutboundBytes && !cn.closing {
			// The client has read enough: resume reading its
			// requests (OnTraffic runs again).
			cn.throttled = false
			_ = cn.gc.Wake(nil)
		}
		// Unparsed input (requests left for a later pass, see
		// readRequests) is not idle.
		idle := cn.reqStart == 0 && len(cn.pending) == 0 && out == 0 && cn.gc.InboundBuffered() == 0
		switch {
		case cn.lingerSince != 0:
			if ns-cn.lingerSince > int64(lingerTimeout) {
				victims = append(victims, cn)
			}
		case cn.stallSince != 0 && ns-cn.stallSince > int64(cfg.WriteTimeout):
			s.metrics.Rejected(metrics.RejectTimeout).Inc()
			victims = append(victims, cn)
		case cn.closing:
			if len(cn.pending) == 0 && cn.linger() == gnet.Close {
				victims = append(victims, cn)
			}
		case cn.reqStart != 0 && cn.headDone == 0 && ns-cn.reqStart > int64(cfg.HeaderTimeout),
			cn.headDone != 0 && ns-cn.headDone > int64(cfg.BodyTimeout):
			s.metrics.Rejected(metrics.RejectTimeout).Inc()
			lp.timeout408(cn, ns)
			if len(cn.pending) == 0 && cn.linger() == gnet.Close {
				victims = append(victims, cn)
			}
		case idle && !cn.seenBytes && ns-cn.lastActive > int64(cfg.HeaderTimeout):
			s.metrics.Rejected(metrics.RejectTimeout).Inc()
			victims = append(victims, cn)
		case idle && ns-cn.lastActive > int64(cfg.IdleTimeout),
			idle && draining && ns-cn.lastActive >= int64(cfg.DrainIdleGrace):
			victims = append(victims, cn)
		}
	}
	for i, cn := range victims {
		if !cn.closed {
			_ = cn.gc.Close()
		}
		victims[i] = nil
	}
	lp.dead = victims[:0]
	lp.enforceBudget()
	lp.scheduleRun() // in case no OnTraffic followed a yield (fair.go)
	// Hand an idle loop's demand counts over.
	lp.pl.Tick(time.Unix(0, ns))
	if lp.al != nil {
		lp.al.Flush()
	}
}

// timeout408 answers the partial request of cn with 408 and marks cn
// closing. With nothing pending the reply is written at once; otherwise it
// is queued behind the pending replies and the connection closes after it.
func (lp *loop) timeout408(cn *conn, now int64) {
	var rep reply
	lp.body = cannedRequestTimeout.apply(&rep, lp.body[:0])
	lp.tmp = cn.place(lp.tmp[:0], &rep, lp.body)
	if len(lp.tmp) > 0 {
		_, _ = cn.gc.Write(lp.tmp)
	}
	lp.durations.Observer("other", endpointUnknown, 408).Observe(float64(now-cn.reqStart) / 1e9)
}
