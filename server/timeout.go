package server

import (
	"time"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// scan runs on the loop (scheduled by tick through EventLoop.Execute; gnet
// has no per-connection deadlines) and closes connections past a timeout:
//
//   - header: a partial request whose header section is not complete
//     HeaderTimeout after its first byte gets 408 and is closed;
//   - body: a request whose body is not complete BodyTimeout after its
//     header section gets 408 and is closed;
//   - idle: a connection with nothing pending for IdleTimeout is closed
//     (at once while the server is draining);
//   - write: a connection whose queued replies have not drained for
//     WriteTimeout is closed.
//
// Victims are collected first and closed afterwards, because closing runs
// OnClose, which edits lp.conns.
func (lp *loop) scan() {
	s := lp.srv
	now := time.Now()
	ns := now.UnixNano()
	draining := s.closingConns.Load()
	cfg := &s.cfg
	victims := lp.dead[:0]
	for _, cn := range lp.conns {
		if cn == nil || cn.closed {
			continue
		}
		out := cn.gc.OutboundBuffered()
		switch {
		case out > 0 && cn.stallSince == 0:
			cn.stallSince = ns
		case out == 0:
			cn.stallSince = 0
		}
		idle := cn.reqStart == 0 && len(cn.pending) == 0 && out == 0
		switch {
		case cn.stallSince != 0 && ns-cn.stallSince > int64(cfg.WriteTimeout):
			s.metrics.Rejected(metrics.RejectTimeout).Inc()
			victims = append(victims, cn)
		case cn.reqStart != 0 && cn.headDone == 0 && ns-cn.reqStart > int64(cfg.HeaderTimeout),
			cn.headDone != 0 && ns-cn.headDone > int64(cfg.BodyTimeout):
			s.metrics.Rejected(metrics.RejectTimeout).Inc()
			cn.closing = true
			// 408 only when it cannot overtake an earlier reply.
			cn.send408 = len(cn.pending) == 0 && out == 0
			victims = append(victims, cn)
		case idle && (draining || ns-cn.lastActive > int64(cfg.IdleTimeout)):
			victims = append(victims, cn)
		case cn.closing && len(cn.pending) == 0:
			victims = append(victims, cn)
		}
	}
	for i, cn := range victims {
		if cn.send408 && !cn.closed {
			rep := reply{status: 408, contentType: contentJSON, close: true}
			lp.body = appendDetailBody(lp.body[:0], "request timeout")
			lp.tmp = appendReply(lp.tmp[:0], &rep, s.date.get(), lp.body)
			_, _ = cn.gc.Write(lp.tmp)
		}
		if !cn.closed {
			_ = cn.gc.Close()
		}
		victims[i] = nil
	}
	lp.dead = victims[:0]
}
