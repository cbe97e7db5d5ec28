package server

import (
	"context"
	"fmt"
	"net"

	"github.com/panjf2000/gnet/v2"

	"github.com/pricing-engine/pricing-engine/internal/loophost"
)

// Back-end connections on the loop. A loop is the [loophost.Host] of its
// pricing handle: a store that keeps a connection of its own on each loop
// (the Redis store's reads) attaches it here, and the loop reads its
// replies in the same epoll wait as the clients' requests. Such a
// connection is a peer, told apart from a client by its gnet context: it
// is not counted against the connection limit, not scanned for timeouts
// and not drained; its handler owns it.

var _ loophost.Host = (*loop)(nil)

// peer is the loop's side of an attached back-end connection.
type peer struct {
	lp *loop
	h  loophost.Handler
	gc gnet.Conn
	// inTraffic is set while h.Received runs: a Close then ends the
	// connection through OnTraffic's action.
	inTraffic bool
	closeNow  bool
	closed    bool
}

var _ loophost.Conn = (*peer)(nil)

// Attach implements [loophost.Host].
func (lp *loop) Attach(c net.Conn, h loophost.Handler) error {
	p := &peer{lp: lp, h: h}
	ch, err := lp.el.Enroll(gnet.NewContext(context.Background(), p), c)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("cannot attach %s to the event loop: %w: %w", c.RemoteAddr(), loophost.ErrStopped, err)
	}
	// gnet answers once the loop ran the registration: a loop that
	// stops first never does (its pool goroutine keeps waiting; the
	// process is ending).
	select {
	case res := <-ch:
		if res.Err != nil {
			return fmt.Errorf("cannot attach %s to the event loop: %w", c.RemoteAddr(), res.Err)
		}
		return nil
	case <-lp.srv.ctx.Done():
		return fmt.Errorf("cannot attach %s to the event loop: %w", c.RemoteAddr(), loophost.ErrStopped)
	}
}

// Run implements [loophost.Host].
func (lp *loop) Run(f func()) bool {
	return lp.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		f()
		return nil
	})) == nil
}

// Write implements [loophost.Conn].
func (p *peer) Write(b []byte) error {
	if p.closed {
		return net.ErrClosed
	}
	_, err := p.gc.Write(b)
	return err
}

// Close implements [loophost.Conn].
func (p *peer) Close() {
	if p.closed || p.closeNow {
		return
	}
	if p.inTraffic {
		p.closeNow = true
		return
	}
	_ = p.lp.el.Close(p.gc)
}

// opened runs in OnOpen for a peer's connection.
func (p *peer) opened(gc gnet.Conn) {
	p.gc = gc
	p.h.Opened(p)
}

// traffic runs in OnTraffic for a peer's connection: the handler consumes
// what arrived, and the requests it answered are replied to at once, in
// this wake-up of the loop.
func (p *peer) traffic() (action gnet.Action) {
	lp := p.lp
	defer func() {
		if r := recover(); r != nil {
			// The handler failed on what its back end sent: the
			// connection ends (its handler answers what waited on it
			// in Closed); the loop and its clients go on.
			p.inTraffic = false
			lp.srv.panicked(r, remoteString(p.gc), "")
			action = gnet.Close
		}
	}()
	buf, _ := p.gc.Peek(-1)
	lp.inTurn.Store(true) // completions need not pump: drain follows
	p.inTraffic = true
	n := p.h.Received(buf)
	p.inTraffic = false
	_, _ = p.gc.Discard(n)
	lp.drain()
	if p.closeNow {
		return gnet.Close
	}
	return gnet.None
}

// ended runs in OnClose for a peer's connection.
func (p *peer) ended(err error) {
	if p.closed {
		return
	}
	p.closed = true
	p.h.Closed(err)
}
