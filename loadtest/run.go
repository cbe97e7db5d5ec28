package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runner is the shared state of one run.
type runner struct {
	cfg      Config
	tgt      target
	rend     *renderer
	st       *stats
	start    time.Time
	deadline time.Time       // no request is started after it
	hardCtx  context.Context // cancelled: abandon requests in flight
	tickets  atomic.Int64    // requests claimed so far
	interval float64         // open loop: nanoseconds between arrivals
	dialer   net.Dialer
}

// Run performs one load-test run and returns its result. It returns when
// Config.Duration has passed (or Config.MaxRequests were sent) and the
// requests in flight have completed or timed out, or soon after ctx is
// cancelled; the result then covers what was measured so far. Run returns
// an error only for an invalid configuration.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot run load test: %w", err)
	}
	tgt, err := cfg.target(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot run load test: %w", err)
	}
	if cfg.Ramp < 0 {
		cfg.Ramp = cfg.ThinkMax
	}
	rend, err := newRenderer(&cfg.Workload, tgt, cfg.NewConn)
	if err != nil {
		return nil, fmt.Errorf("cannot run load test: %w", err)
	}
	start := time.Now()
	r := &runner{
		cfg:      cfg,
		tgt:      tgt,
		rend:     rend,
		st:       newStats(start, cfg.Warmup),
		start:    start,
		deadline: start.Add(cfg.Duration),
		hardCtx:  ctx,
		dialer:   net.Dialer{Timeout: cfg.Timeout},
	}
	if cfg.Rate > 0 {
		r.interval = 1e9 / cfg.Rate
	}
	softCtx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()

	rep := newReporter(r)
	repDone := make(chan struct{})
	repStop := make(chan struct{})
	go func() {
		defer close(repDone)
		rep.loop(repStop)
	}()

	if cfg.Engine == EngineEpoll {
		err := r.runEpoll(ctx) // engine_epoll.go
		end := time.Now()
		close(repStop)
		<-repDone
		if err != nil {
			return nil, fmt.Errorf("cannot run load test: %w", err)
		}
		rep.finish(end)
		return r.result(end, rep), nil
	}
	var wg sync.WaitGroup
	for i := range cfg.Users {
		wg.Go(func() {
			w := newWorker(r, i)
			defer w.closeConn()
			if cfg.Rate > 0 {
				w.openLoop(softCtx)
			} else {
				w.closedLoop(softCtx)
			}
		})
	}
	wg.Wait()
	end := time.Now()
	close(repStop)
	<-repDone
	rep.finish(end)
	return r.result(end, rep), nil
}

// claim reserves up to n requests under Config.MaxRequests and returns
// how many were granted.
func (r *runner) claim(n int) int {
	if r.cfg.MaxRequests <= 0 {
		r.tickets.Add(int64(n))
		return n
	}
	got := r.tickets.Add(int64(n))
	before := got - int64(n)
	if before >= r.cfg.MaxRequests {
		return 0
	}
	return int(min(int64(n), r.cfg.MaxRequests-before))
}

// due returns the intended send time of open-loop ticket t.
func (r *runner) due(t int64) time.Time {
	return r.start.Add(time.Duration(float64(t) * r.interval))
}

// worker is one virtual user (closed loop) or one connection (open loop).
// It is used by one goroutine only.
type worker struct {
	r       *runner
	id      int
	rng     *rand.Rand
	cc      *clientConn
	stop    func() bool // releases the hard-cancel hook of cc
	readBuf []byte
	wbuf    []byte
	scratch []byte
	infos   []reqInfo
	items   []reqInfo   // batch workload: request i's items are items[i*Batch:(i+1)*Batch]
	bcheck  *batchCheck // batch workload: the reply check
	starts  []time.Time
	resp    response
	timer   *time.Timer
}

func newWorker(r *runner, id int) *worker {
	p := r.cfg.Pipeline
	t := time.NewTimer(time.Hour)
	t.Stop()
	w := &worker{
		r:      r,
		id:     id,
		rng:    rand.New(rand.NewPCG(r.cfg.Seed, uint64(id))),
		infos:  make([]reqInfo, p),
		starts: make([]time.Time, p),
		timer:  t,
	}
	if b := r.cfg.Workload.Batch; b > 0 {
		w.items = make([]reqInfo, p*b)
		w.bcheck = newBatchCheck(r.rend)
	}
	return w
}

// draw picks the parameters of request i of the next exchange: one item,
// or Workload.Batch items for the batch workload.
func (w *worker) draw(i int) {
	if b := w.r.cfg.Workload.Batch; b > 0 {
		for k := range b {
			w.items[i*b+k] = w.r.rend.draw(w.rng)
		}
		return
	}
	w.infos[i] = w.r.rend.draw(w.rng)
}

// batchItems returns the items of request i (batch workload).
func (w *worker) batchItems(i int) []reqInfo {
	b := w.r.cfg.Workload.Batch
	return w.items[i*b : (i+1)*b]
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	w.timer.Reset(d)
	select {
	case <-ctx.Done():
		w.timer.Stop()
		return false
	case <-w.timer.C:
		return true
	}
}

// closedLoop runs one virtual user: request, wait for the reply, think.
func (w *worker) closedLoop(ctx context.Context) {
	cfg := &w.r.cfg
	if cfg.Ramp > 0 && !w.sleep(ctx, time.Duration(w.rng.Int64N(int64(cfg.Ramp)))) {
		return
	}
	for ctx.Err() == nil && time.Now().Before(w.r.deadline) {
		n := w.r.claim(cfg.Pipeline)
		if n == 0 {
			return
		}
		for i := range n {
			w.draw(i)
		}
		w.exchange(n, false)
		think := cfg.ThinkMin
		if span := cfg.ThinkMax - cfg.ThinkMin; span > 0 {
			think += time.Duration(w.rng.Int64N(int64(span) + 1))
		}
		if !w.sleep(ctx, think) {
			return
		}
	}
}

// openLoop takes arrivals in order and sends each at its due time, or at
// once when it is late. Latency counts from the due time.
func (w *worker) openLoop(ctx context.Context) {
	r := w.r
	maxReq := r.cfg.MaxRequests
	for ctx.Err() == nil {
		t := r.tickets.Add(1) - 1
		if maxReq > 0 && t >= maxReq {
			return
		}
		due := r.due(t)
		if due.After(r.deadline) {
			return
		}
		if !w.sleep(ctx, time.Until(due)) {
			return
		}
		w.draw(0)
		w.starts[0] = due
		n := 1
		// Pipelining: take further arrivals that are already due.
		for n < r.cfg.Pipeline {
			cur := r.tickets.Load()
			if maxReq > 0 && cur >= maxReq {
				break
			}
			d := r.due(cur)
			if d.After(time.Now()) || d.After(r.deadline) {
				break
			}
			if !r.tickets.CompareAndSwap(cur, cur+1) {
				continue
			}
			w.draw(n)
			w.starts[n] = d
			n++
		}
		w.exchange(n, true)
	}
}

// BindNoPort is a net.Dialer Control function that sets
// IP_BIND_ADDRESS_NO_PORT on a socket bound to a source address, so that
// connect() picks the port by the whole 4-tuple. Without it every bind(2)
// needs a port free on that address for any destination, and a run after a
// large one fails with EADDRINUSE while the ports of the earlier run sit in
// TIME-WAIT. The bench tools use it too.
func BindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

// dial opens a connection and hooks it to the hard cancellation.
func (w *worker) dial() error {
	d := &w.r.dialer
	if src := w.r.cfg.SourceAddrs; len(src) > 0 {
		dd := *d
		dd.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src[w.id%len(src)], 0))
		dd.Control = BindNoPort
		d = &dd
	}
	nc, err := d.DialContext(w.r.hardCtx, "tcp", w.r.tgt.dialAddr)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", w.r.tgt.dialAddr, err)
	}
	w.cc = newClientConn(nc, w.readBuf)
	w.stop = context.AfterFunc(w.r.hardCtx, func() { _ = nc.Close() })
	return nil
}

// closeConn closes the connection, keeping its read buffer for reuse.
func (w *worker) closeConn() {
	if w.cc == nil {
		return
	}
	w.stop()
	_ = w.cc.nc.Close()
	w.readBuf = w.cc.buf
	w.cc = nil
}

// isStale reports whether err is how a server's close of an idle
// keep-alive connection shows on the next exchange.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// exchange sends w.infos[:n] as one batch and reads the replies. In open
// loop mode w.starts holds the due times; otherwise the send time is used.
func (w *worker) exchange(n int, openLoop bool) {
	r := w.r
	w.wbuf = w.wbuf[:0]
	for i := range n {
		if w.items != nil {
			w.wbuf, w.scratch = r.rend.appendBatchRequest(w.wbuf, w.scratch, w.batchItems(i))
			continue
		}
		w.wbuf, w.scratch = r.rend.appendRequest(w.wbuf, w.scratch, w.infos[i])
	}
	for attempt := 0; ; attempt++ {
		reused := w.cc != nil
		if !reused {
			if err := w.dial(); err != nil {
				w.failRest(0, n, err)
				return
			}
		}
		now := time.Now()
		if !openLoop {
			for i := range n {
				w.starts[i] = now
			}
		}
		nc := w.cc.nc
		_ = nc.SetDeadline(now.Add(r.cfg.Timeout))
		_, err := nc.Write(w.wbuf)
		for i := 0; err == nil && i < n; i++ {
			err = w.cc.readResponse(&w.resp)
			if err != nil {
				if i == 0 && reused && attempt == 0 && w.cc.buffered() == 0 && isStale(err) {
					break // retried below on a fresh connection
				}
				w.failRest(i, n, err)
				w.closeConn()
				return
			}
			w.complete(i, time.Now())
			if w.resp.close && i < n-1 {
				w.failRest(i+1, n, errors.New("server closed the connection with requests outstanding"))
				w.closeConn()
				return
			}
		}
		if err == nil {
			if w.resp.close || r.cfg.NewConn {
				w.closeConn()
			}
			return
		}
		w.closeConn()
		if !(reused && attempt == 0 && isStale(err)) {
			w.failRest(0, n, err)
			return
		}
		r.st.retries.Add(1)
	}
}

// complete accounts for the response to request i.
func (w *worker) complete(i int, now time.Time) {
	if !w.r.account(w.id, w.starts[i], now, &w.resp) {
		return
	}
	if w.items != nil {
		w.completeBatch(i)
		return
	}
	w.r.checkOne(w.resp.body, w.infos[i])
}

// account records the latency of resp, the response to a request due
// (open loop) or sent (closed loop) at start and completed at now, and
// counts it as failed if its status is not 200. It reports whether resp
// is a 200 whose body remains to be checked. id picks the statistics
// shard.
func (r *runner) account(id int, start, now time.Time, resp *response) bool {
	st := r.st
	if !st.counted(now) {
		return false
	}
	st.recordLatency(id, now.Sub(start), resp.status == 200)
	if resp.status != 200 {
		st.failure(resp.status, "", nil)
		return false
	}
	return true
}

// checkOne counts the outcome of body, the 200 reply to the single
// request described by info.
func (r *runner) checkOne(body []byte, info reqInfo) {
	st := r.st
	if r.cfg.Workload.Check {
		if err := r.rend.checkQuote(body, info); err != nil {
			text := string(body)
			st.failure(0, ReasonBadBody, func() string { return fmt.Sprintf("%v: %q", err, truncate(text)) })
			return
		}
	}
	st.success()
}

// completeBatch accounts for the 200 reply to batch request i: a success
// when every item passes the check, else a bad_body failure; the items
// that passed are counted either way.
func (w *worker) completeBatch(i int) {
	st := w.r.st
	items := w.batchItems(i)
	if !w.r.cfg.Workload.Check {
		st.itemsOK.Add(int64(len(items)))
		st.success()
		return
	}
	bad, first, err := w.bcheck.check(w.resp.body, items)
	st.itemsOK.Add(int64(len(items) - bad))
	if err == nil {
		st.success()
		return
	}
	body := string(w.resp.body)
	st.failure(0, ReasonBadBody, func() string {
		if first >= 0 {
			return fmt.Sprintf("%d of %d items bad, first item %d: %v: %q", bad, len(items), first, err, truncate(body))
		}
		return fmt.Sprintf("%v: %q", err, truncate(body))
	})
}

// failRest counts requests from..to of the batch as failed by err.
func (w *worker) failRest(from, to int, err error) {
	w.r.fail(to-from, err)
}

// fail counts n requests as failed by err.
func (r *runner) fail(n int, err error) {
	st := r.st
	if r.hardCtx.Err() != nil || !st.counted(time.Now()) {
		return // abandoned by the caller, or still warming up
	}
	reason := ReasonConnError
	var me *malformedError
	switch {
	case isTimeout(err):
		reason = ReasonTimeout
	case errors.As(err, &me):
		reason = ReasonMalformed
	}
	for range n {
		st.failure(0, reason, func() string { return reason + ": " + describe(err) })
	}
}

// describe renders err without the local address, so that failures that
// differ only in their ephemeral port read the same.
func describe(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + " " + oe.Net + ": " + oe.Err.Error()
	}
	return err.Error()
}
