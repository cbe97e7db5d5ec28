package server

import (
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// lingerTimeout bounds how long a connection the server is closing keeps
// reading (and discarding) what the client still sends.
const lingerTimeout = time.Second

// linger starts a lingering close of cn, whose last reply has been queued:
// closing a socket with unread input makes the kernel send RST, which can
// destroy that reply (a 400, 408 or 413 the client has not read yet) in
// the client's receive buffer. So once the reply has left the output
// buffer, the write side is shut down (the client sees EOF after the
// reply) and input is discarded until the client closes or lingerTimeout
// passes; net/http's closeWriteAndWait does the same. It returns the
// action for the event loop: Close when the output is still queued (gnet
// flushes what it can on close) or the shutdown fails.
//
// A client that asked to close after a complete request (peerClose) sends
// nothing more; with nothing left unread the plain close sends FIN after
// the reply, not RST, and the lingering close would only cost a shutdown
// and one more wake-up for the client's EOF (a new connection per request
// pays it every time). Bytes it sends anyway keep the linger.
func (cn *conn) linger() gnet.Action {
	if cn.lingerSince != 0 {
		return gnet.None
	}
	if cn.gc.OutboundBuffered() > 0 || (cn.peerClose && cn.gc.InboundBuffered() == 0) {
		return gnet.Close
	}
	if err := unix.Shutdown(cn.gc.Fd(), unix.SHUT_WR); err != nil {
		return gnet.Close
	}
	cn.lingerSince = time.Now().UnixNano()
	_, _ = cn.gc.Discard(-1)
	return gnet.None
}
