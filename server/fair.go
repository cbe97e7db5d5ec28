package server

import (
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Fairness between the connections of one event loop.
//
// gnet serves the connections that epoll reports ready one after the
// other, each to completion: a connection whose read brought a full read
// buffer of pipelined requests (about a hundred price requests) held the
// loop that long, and a well-behaved client whose one request became
// readable in the same pass waited behind every such connection. With
// hundreds of pipelining clients at once (non-readers, each getting its
// kernel buffers' worth of replies computed before TCP flow control stops
// it) that wait adds up (docs/RELIABILITY.md, "Fairness between
// connections").
//
// So one turn of a connection serves at most turnRequests requests. A
// connection with complete requests left after its turn is parked: the
// loop's poller stops watching it (its further bytes stay in the kernel)
// and it joins the loop's run queue. The run queue is served by a loop task
// (runQueued), one turn per connection in FIFO order; between turns the
// task looks at the loop's epoll set without waiting (epoll_wait with a
// zero timeout: level-triggered readiness is reported again to gnet) and
// returns as soon as a connection is readable, so that gnet serves it
// first; the next OnTraffic schedules the task again. A well-behaved
// client therefore waits for at most one turn of queued work plus the
// first turns of the connections that became readable with it, however
// many pipelining connections the loop holds. A parked connection whose
// requests are all served is watched for reading again.
//
// A parked connection's replies are written as they are made; what the
// socket does not take waits in gnet's buffer until the connection is
// watched again (a parked connection is not watched for writability either,
// so that gnet cannot re-arm reading behind the run queue's back). Past
// MaxOutboundBytes of it, the connection is throttled as any other
// (budget.go) and leaves the run queue.
//
// Without the loop's epoll descriptor (loopEpoll) a connection cannot be
// parked, and each turn serves everything buffered, as gnet would.

// turnRequests is the most requests one turn of a connection serves: a
// client pipelining up to 64 deep is served in one turn, as without the run
// queue. Smaller turns cost pipelining throughput, because every turn costs
// a write and two epoll_ctl (turns of 16 against 64: docs/BENCHMARKS.md,
// "Design measurements").
const turnRequests = 64

// busyTurnRequests is the turn of a connection that becomes readable while
// others wait in the run queue: it joins them after this many requests, so
// that a burst of new pipelining connections costs the loop's pass over its
// ready connections little each.
const busyTurnRequests = 16

// runTurnsPerTask is the most turns one run of runQueued serves before it
// queues itself behind the loop's other tasks (completions, scans).
const runTurnsPerTask = 8

// park puts cn in its loop's run queue, with reading paused; the caller
// has served a turn and cn has requests left. It reports false when
// reading cannot be paused (the turn limit does not apply then).
func (cn *conn) park() bool {
	if cn.parked {
		return true
	}
	if !cn.setInterest(0) {
		return false
	}
	cn.parked = true
	lp := cn.lp
	if !cn.inRunq {
		cn.inRunq = true
		lp.runq = append(lp.runq, cn)
	}
	if !lp.inRun {
		lp.scheduleRun() // runQueued decides itself whether to go on
	}
	return true
}

// canPark reports whether connections of lp can be parked.
func (cn *conn) canPark() bool {
	return cn.lp.loopEpoll(cn.gc.Fd()).fd >= 0
}

// unpark watches cn for reading again (and for writing, if output waits).
func (cn *conn) unpark() {
	cn.parked = false
	if cn.throttled {
		return // pauseReading set the interest: writable only
	}
	ev := uint32(unix.EPOLLIN | unix.EPOLLPRI)
	if cn.gc.OutboundBuffered() > 0 {
		ev |= unix.EPOLLOUT
	}
	cn.setInterest(ev)
}

// scheduleRun queues runQueued on the loop unless it is queued already or
// there is nothing to run.
func (lp *loop) scheduleRun() {
	if lp.runScheduled || lp.runqHead == len(lp.runq) {
		return
	}
	lp.runScheduled = true
	if err := lp.el.Execute(lp.srv.ctx, lp.runRun); err != nil {
		lp.runScheduled = false // the loop is stopping
	}
}

// runQueued serves the run queue, one turn per connection, until it is
// empty, a connection is readable elsewhere, or runTurnsPerTask turns are
// done. It runs on the loop.
func (lp *loop) runQueued() {
	lp.runScheduled = false
	lp.inRun = true
	defer func() { lp.inRun = false }()
	for turns := 0; turns < runTurnsPerTask; {
		cn := lp.popRun()
		if cn == nil {
			return
		}
		if cn.closed || !cn.parked {
			continue
		}
		turns++
		cn.parked = false // the turn parks it again if requests are left
		if lp.srv.h.OnTraffic(cn.gc) == gnet.Close {
			_ = lp.el.Close(cn.gc)
			continue
		}
		if !cn.closed && !cn.parked {
			cn.unpark()
		}
		if lp.runqHead == len(lp.runq) {
			return
		}
		if lp.readyElsewhere() {
			// gnet serves the ready connections first; their
			// OnTraffic (or the next scan) schedules this again.
			return
		}
	}
	lp.scheduleRun()
}

// popRun takes the first connection of the run queue (nil: empty).
func (lp *loop) popRun() *conn {
	if lp.runqHead == len(lp.runq) {
		return nil
	}
	cn := lp.runq[lp.runqHead]
	lp.runq[lp.runqHead] = nil
	lp.runqHead++
	if lp.runqHead == len(lp.runq) {
		lp.runq, lp.runqHead = lp.runq[:0], 0
	} else if lp.runqHead >= 1024 && lp.runqHead*2 >= len(lp.runq) {
		n := copy(lp.runq, lp.runq[lp.runqHead:])
		clear(lp.runq[n:])
		lp.runq, lp.runqHead = lp.runq[:n], 0
	}
	cn.inRunq = false
	return cn
}

// readyElsewhere reports whether the loop's poller has a connection ready
// to read (or closed by its peer), without waiting. Level-triggered
// readiness is reported again to gnet's own epoll_wait. An edge-triggered
// registration is not: a throttled connection's writability edge taken
// here (budget.go, marked in the event data) is given back by registering
// it again, which queues it anew while the socket is writable; gnet's
// wake-up eventfd is ignored (an edge taken here is made again by gnet when
// tasks are left at the end of its task run).
func (lp *loop) readyElsewhere() bool {
	if !lp.ep.known || lp.ep.fd < 0 {
		return false
	}
	n, err := unix.EpollWait(lp.ep.fd, lp.peek[:], 0)
	if err != nil {
		return false
	}
	ready := false
	for _, ev := range lp.peek[:n] {
		switch {
		case int(ev.Fd) == lp.ep.efd:
		case ev.Pad == edgeMark:
			re := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLET, Fd: ev.Fd, Pad: edgeMark}
			_ = unix.EpollCtl(lp.ep.fd, unix.EPOLL_CTL_MOD, int(ev.Fd), &re)
		case ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0:
			ready = true
		}
	}
	return ready
}
