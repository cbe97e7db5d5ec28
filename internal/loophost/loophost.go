// Package loophost says how a client connection to a back end joins an
// event loop: the loop reads the back end's replies on its own goroutine,
// with the requests that wait for them, so that a reply reaches its
// requests without a hand-off between goroutines. The server's event
// loops implement [Host]; a lookup source that can use one implements
// [Handler]. It imports nothing of the module.
package loophost

import (
	"errors"
	"net"
)

// ErrStopped is matched by the error of [Host.Attach] once the event loop
// has stopped: no later attempt can succeed.
var ErrStopped = errors.New("event loop stopped")

// Host is an event loop that can own client connections.
type Host interface {
	// Attach hands c, connected and ready for use (handshake done), to
	// the loop and blocks until the loop owns it or refused it; on
	// success the loop reads and writes a duplicate of c's socket and c
	// is closed, on failure c is closed too. h's methods are then called
	// on the loop's goroutine: Opened once, Received as bytes arrive,
	// Closed once at the end (also when the loop stops). Attach is safe
	// for concurrent use and must not be called on the loop's goroutine.
	Attach(c net.Conn, h Handler) error
	// Run calls f on the loop's goroutine soon. It is safe for concurrent
	// use; it reports false, and f is not called, once the loop has
	// stopped.
	Run(f func()) bool
}

// Handler receives the events of one attached connection, on the loop's
// goroutine; none of its methods may block.
type Handler interface {
	// Opened is called once, when the loop owns the connection, with the
	// loop's side of it.
	Opened(c Conn)
	// Received is called with the bytes read and not consumed yet; it
	// returns how many it consumed (the rest are passed again, with more,
	// at the next call). After it returns the loop completes on its
	// goroutine what the handler answered.
	Received(p []byte) int
	// Closed is called once, when the connection ended: closed by the
	// handler (err nil), by the peer, or by the loop stopping.
	Closed(err error)
}

// Conn is the loop's side of an attached connection. Its methods may be
// called only on the loop's goroutine, until Closed.
type Conn interface {
	// Write writes p or queues what the socket does not take at once;
	// the loop sends the rest when it can. p may be reused on return.
	Write(p []byte) error
	// Close closes the connection; Closed follows.
	Close()
}
