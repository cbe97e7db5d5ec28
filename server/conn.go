package server

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/pricing-engine/pricing-engine/httpparse"
	"github.com/pricing-engine/pricing-engine/pricer"
)

// conn is the per-connection state. It is touched only by the connection's
// event loop, except for the jobs a Source or a pool worker owns for a
// while (see job).
type conn struct {
	gc gnet.Conn
	lp *loop
	p  *httpparse.Parser

	// pending holds replies not yet written, in request order. Its first
	// element is always a job still running on the pool (finished heads are
	// moved to the output at once), so every reply that can go out does.
	pending []*job

	closing bool // no more requests are read; close once pending drains

	remoteAddr netip.AddrPort // the client's address, for the access log (remote)
	remoteSet  bool
	closed     bool // OnClose ran; workers' late wake-ups are ignored
	touched    bool // in lp.touched: a completion of this drain belongs to it
	// peerClose: the client asked to close after a complete request
	// (Connection: close, or HTTP/1.0 without keep-alive): it sends
	// nothing more, so the close needs no linger (linger.go).
	peerClose bool

	idx int // position in lp.conns

	// Timestamps in Unix nanoseconds (0 = not applicable), driving the
	// timeouts checked by loop.scan.
	lastActive   int64 // last OnTraffic
	reqStart     int64 // first byte of the current partial request
	headDone     int64 // header section of the partial request complete
	stallSince   int64 // outbound bytes queued without the client reading since
	lastOut      int   // outbound bytes queued at the previous scan
	seenBytes    bool  // the client has sent at least one byte
	sentContinue bool  // 100 Continue sent for the current request
	lingerSince  int64 // write side shut down; discarding input (linger)
	throttled    bool  // reading paused until queued output drains
	parked       bool  // requests left after a turn: reading paused, served from lp.runq (fair.go)
	inRunq       bool  // in lp.runq (possibly stale: parked was cleared)
}

// job is one reply whose position in the connection's reply order is
// reserved. Inline replies become jobs only when an earlier reply is still
// pending; requests waiting on lookups and metrics requests always do.
//
// Ownership: a price or batch job whose lookups are pending belongs to the
// loop's pricing handle until its Exchange's Done pushes it onto its
// loop's completion stack; from
// then on (and for every other job) it belongs to the loop. A metrics job
// belongs to its pool worker until the worker marks it done.
type job struct {
	done atomic.Bool
	bb   *bytebufferpool.ByteBuffer // the complete reply bytes
	// close makes the connection close after this reply.
	close bool

	// Fields below are used by price and metrics jobs only.
	srv    *Server
	gc     gnet.Conn
	kind   route
	rep    reply
	method string
	start  time.Time
	accept []byte // Accept header of a metrics request
	run    func() // j.execute bound once, so Submit does not allocate

	// Price and batch jobs: the request, its lookups and its reply.
	x      pricer.Exchange // made once, with j.lookedUp as its done
	xr     *pricer.Reply   // x.Result(), bound once
	xt     *pricer.Trace   // x.Trace(), bound once
	cn     *conn
	lp     *loop
	next   *job // link in lp's completion stack
	orphan bool // its connection went away while the lookups were out: release on completion
}

func (j *job) reset() {
	j.done.Store(false)
	j.close = false
	j.gc = nil
	j.rep = reply{}
	j.accept = j.accept[:0]
	j.cn, j.lp, j.next, j.orphan = nil, nil, nil, false
}
