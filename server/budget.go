package server

import (
	"cmp"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// Memory bounds for API connections, in three layers:
//
//  1. Per connection, output: once more than Config.MaxOutboundBytes of
//     replies wait in user space for a client that does not read them, no
//     further request of that connection is parsed (no reply is computed
//     for it) and the connection stops being read at all (pauseReading):
//     the client's further bytes stay in the kernel, where TCP flow
//     control stops the client. The kernel's own send and receive buffers
//     of the connection are capped at the same sizes (accept.go), so the
//     replies computed for a client that never reads are bounded by these
//     buffers plus the client's receive window. One read takes at most
//     loopReadBytes, and one turn of a connection serves at most
//     turnRequests requests and builds at most MaxOutboundBytes of
//     replies, continuing in a later turn (fair.go).
//  2. Per connection, input: bytes that arrived before reading paused are
//     bounded by Config.MaxInboundBytes; past it the connection is closed.
//  3. Process: the bytes buffered for all connections (unparsed input and
//     unsent output, summed by each loop's scan) are held under
//     Config.MaxBufferedBytes by closing the connections that hold the most
//     unread output first (pricing_requests_rejected_total{reason=
//     "memory_budget"}).

// loopReadBytes is the most one read from a connection takes (gnet's
// ReadBufferCap; its default is 64 KiB).
const loopReadBytes = 16 << 10

// Defaults of the global budget (see [DefaultBufferBudget]).
const (
	// DefaultBufferBudgetNoLimit is the budget when GOMEMLIMIT is not set.
	DefaultBufferBudgetNoLimit = 64 << 20
	// bufferBudgetMin is the smallest budget derived from GOMEMLIMIT.
	bufferBudgetMin = 16 << 20
)

// DefaultBufferBudget is the default of Config.MaxBufferedBytes: a quarter
// of the Go memory limit (GOMEMLIMIT, or debug.SetMemoryLimit) when one is
// set, at least 16 MiB; 64 MiB otherwise. A quarter leaves the rest of the
// limit to the heap's own working set and to the garbage collector's
// headroom, since buffers freed by closing connections only return to the
// heap at the next collection.
func DefaultBufferBudget() int64 {
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < math.MaxInt64 {
		return max(lim/4, bufferBudgetMin)
	}
	return DefaultBufferBudgetNoLimit
}

// pauseReading stops the loop's poller from reporting cn readable. It is
// called on the loop when cn has more output queued in gnet than
// MaxOutboundBytes, so gnet is waiting for the socket to be writable; when
// gnet has written the last queued byte it re-registers the connection for
// reading itself (eventloop.write calls ModRead), which resumes reading
// exactly when the client has caught up. Until then the client's requests
// stay in the kernel, unread and not answered.
//
// gnet v2.9.7 has no call for this. The default (level-triggered) epoll
// reactor registers each connection with its descriptor as the event data,
// so the loop's epoll descriptor, found once through /proc/self/fdinfo
// (loopEpoll), can be changed to EPOLLOUT alone with the same data. When
// the descriptor cannot be found, reading is not paused and the input bound
// (MaxInboundBytes) closes a connection that keeps sending.
//
// Writability is watched edge-triggered: an EPOLLOUT edge comes when the
// socket's send queue frees space (the client read, the kernel sent, an ACK
// came back), and gnet then writes what it holds. Level-triggered, a
// connection whose client does not read was reported writable in every
// turn of the loop while its writes failed with EAGAIN: under TCP memory
// pressure (which 1,000 non-reading clients cause on their own side: their
// unsent requests) the kernel reports a socket writable when it has send
// buffer room, while tcp_sendmsg cannot charge the memory and returns
// EAGAIN. strace during the non-readers benchmark showed the loop spinning
// on such failed writes with nothing else to do (docs/RELIABILITY.md,
// "Memory"). An edge is reported once: the run queue's look at
// the epoll set (readyElsewhere) re-arms the ones it takes. gnet's own
// re-registration when the output has
// drained (ModRead) makes the interest level-triggered again.
func (cn *conn) pauseReading() {
	cn.setInterest(unix.EPOLLOUT | unix.EPOLLET)
}

// setInterest sets the events the loop's poller watches for cn (gnet's
// registration: level-triggered, the descriptor as data). It reports
// false when the loop's epoll descriptor is unknown (nothing changed).
func (cn *conn) setInterest(events uint32) bool {
	fd := cn.gc.Fd()
	ep := cn.lp.loopEpoll(fd)
	if ep.fd < 0 {
		return false
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if events&unix.EPOLLET != 0 {
		ev.Pad = edgeMark
	}
	_ = unix.EpollCtl(ep.fd, unix.EPOLL_CTL_MOD, fd, &ev)
	return true
}

// edgeMark marks, in the upper half of the event data (gnet reads only the
// lower half, the descriptor), the connections registered edge-triggered
// by pauseReading, so that readyElsewhere can give back an edge it took.
const edgeMark = 0x45444745 // "EDGE"

// loopPoller identifies an event loop's epoll set: its descriptor (-1:
// unknown, reading cannot be paused) and the descriptor of gnet's wake-up
// eventfd in it (the only edge-triggered member).
type loopPoller struct {
	fd, efd int
	known   bool
}

// loopEpoll returns lp's epoll set, given a connection descriptor fd
// registered there. The result is kept on the loop; it is called on the
// loop.
func (lp *loop) loopEpoll(fd int) loopPoller {
	if lp.ep.known {
		return lp.ep
	}
	lp.ep = findEpollOf(fd)
	lp.ep.known = true
	if lp.ep.fd < 0 {
		lp.srv.log.Warn("cannot find the event loop's epoll descriptor; connections that do not read their replies are bounded by --max-inbound-bytes only, and one connection's pipelined requests are served without yielding to others")
	}
	return lp.ep
}

// findEpollOf returns the epoll set of this process that watches fd with
// fd itself as event data (gnet's registration), with the descriptor of
// the edge-triggered eventfd registered there (fd -1 when not found; efd -1
// when there is none).
func findEpollOf(fd int) loopPoller {
	none := loopPoller{fd: -1, efd: -1}
	if fd < 0 {
		return none
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return none
	}
	want := strconv.Itoa(fd)
	wantData := strconv.FormatInt(int64(fd), 16)
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || target != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		found := loopPoller{fd: -1, efd: -1}
		for line := range strings.SplitSeq(string(info), "\n") {
			// tfd:        9 events:       19 data:                9  pos:0 ino:... sdev:...
			f := strings.Fields(line)
			if len(f) < 6 || f[0] != "tfd:" || f[4] != "data:" {
				continue
			}
			if f[1] == want && f[5] == wantData {
				found.fd = n
			}
			if ev, err := strconv.ParseUint(f[3], 16, 32); err == nil && ev&unix.EPOLLET != 0 {
				if t, err := strconv.Atoi(f[1]); err == nil {
					found.efd = t
				}
			}
		}
		if found.fd >= 0 {
			return found
		}
	}
	return none
}

// enforceBudget runs on the loop at the end of its scan: it records the
// bytes buffered for the loop's connections and, when the process total
// is over Config.MaxBufferedBytes, closes this loop's share of the excess,
// taking the connections with the most unsent output first (then the most
// unparsed input).
func (lp *loop) enforceBudget() {
	s := lp.srv
	var sum int64
	for _, cn := range lp.conns {
		if cn != nil && !cn.closed {
			sum += int64(cn.gc.InboundBuffered() + cn.gc.OutboundBuffered())
		}
	}
	s.buffered(lp).Store(sum)
	total := s.bufferedTotal()
	s.metrics.Buffered().Set(float64(total))
	budget := s.cfg.MaxBufferedBytes
	if total <= budget || sum == 0 {
		return
	}
	share := int64(float64(total-budget) * float64(sum) / float64(total))
	type heavy struct {
		cn      *conn
		out, in int
	}
	var hs []heavy
	for _, cn := range lp.conns {
		if cn == nil || cn.closed {
			continue
		}
		if out, in := cn.gc.OutboundBuffered(), cn.gc.InboundBuffered(); out+in > 0 {
			hs = append(hs, heavy{cn, out, in})
		}
	}
	slices.SortFunc(hs, func(a, b heavy) int {
		if c := cmp.Compare(b.out, a.out); c != 0 {
			return c
		}
		return cmp.Compare(b.in, a.in)
	})
	var freed int64
	closed := 0
	for _, h := range hs {
		if freed >= share {
			break
		}
		freed += int64(h.out + h.in)
		closed++
		s.metrics.Rejected(metrics.RejectMemoryBudget).Inc()
		_ = h.cn.gc.Close()
	}
	s.buffered(lp).Add(-freed)
	s.log.Debug("over the buffer budget; closed the connections holding the most unread output",
		"buffered_bytes", total, "budget_bytes", budget, "closed", closed, "freed_bytes", freed)
}
