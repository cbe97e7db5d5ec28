// Command nonreaders measures what clients that pipeline requests and never
// read the replies cost a server: --conns connections each write batches of
// --depth pipelined price requests as fast as the server takes them and
// never read (a connection the server closes is reopened), while --normal
// well-behaved keep-alive clients, connected before the non-readers start,
// send one request at a time at --normal-rate in total and time each reply
// (from the end of a warm-up of a fifth of --duration, at most 2 s). Meanwhile the server's
// resident memory is sampled from /proc/--pid/status every 50 ms. The
// non-readers run in a child process of their own so that their goroutines
// do not delay the well-behaved clients inside the load generator.
//
//	nonreaders --addr 127.0.0.1:8000 --admin 127.0.0.1:8001 --pid 1234 --conns 1000 --depth 16 --duration 10s
//
// It prints the normal clients' latency percentiles, the server's RSS before
// and at its peak, the replies the server computed (from its
// http_request_duration_seconds count on --admin) and a verdict against
// --max-rss and --max-p99; it exits 1 when the verdict is FAIL. Every loop
// is bounded by --duration (plus a few seconds to finish).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pricing-engine/pricing-engine/bench/internal/loopclient"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server API address (loopback only)")
	admin := flag.String("admin", "127.0.0.1:8001", "server admin address, for /metrics (empty: skip)")
	pid := flag.Int("pid", 0, "server process id, for its RSS (0: skip)")
	conns := flag.Int("conns", 1000, "non-reading connections")
	depth := flag.Int("depth", 16, "requests per pipelined batch")
	sources := flag.Int("sources", 2, "loopback source addresses to spread the connections over")
	normal := flag.Int("normal", 4, "well-behaved keep-alive clients")
	normalRate := flag.Int("normal-rate", 1000, "requests per second of all well-behaved clients together")
	duration := flag.Duration("duration", 10*time.Second, "how long the non-readers run")
	maxRSS := flag.Float64("max-rss", 200, "verdict: peak RSS bound in MB (10^6 bytes)")
	maxP99 := flag.Duration("max-p99", 5*time.Millisecond, "verdict: bound on the well-behaved clients' P99")
	attackOnly := flag.Bool("attack-only", false, "internal: run only the non-readers (the child process)")
	timeline := flag.Duration("timeline", 0, "also print, per interval of this length, the server's CPU use and RSS and the normal clients' replies and worst latency (0: off)")
	flag.Parse()
	if err := loopclient.CheckLoopback(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "nonreaders: %v\n", err)
		os.Exit(2)
	}

	if *attackOnly {
		ctx, cancel := context.WithTimeout(context.Background(), *duration)
		defer cancel()
		fmt.Println(attack(ctx, *addr, *conns, *depth, *sources))
		return
	}

	rssBefore := readRSS(*pid)
	repliesBefore := priceReplies(*admin)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var peak atomic.Int64
	peak.Store(rssBefore)
	samplerDone := make(chan struct{})
	t0 := time.Now()
	var procSamples []procSample // written by the sampler, read after samplerDone
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			v := readRSS(*pid)
			if v > peak.Load() {
				peak.Store(v)
			}
			if *timeline > 0 {
				run, wait := readSchedstat(*pid)
				self, selfWait := readSchedstat(os.Getpid())
				procSamples = append(procSamples, procSample{time.Since(t0), run, wait, self, selfWait, v})
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	// The well-behaved clients connect first, as established clients of
	// a server that the non-readers then hit.
	lat := make([][]sample, *normal)
	var normalErrs atomic.Int64
	var nwg sync.WaitGroup
	every := time.Duration(float64(time.Second) * float64(*normal) / float64(max(*normalRate, 1)))
	normalStart := make(chan struct{})
	for k := range *normal {
		c, err := net.DialTimeout("tcp", *addr, 2*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nonreaders: cannot connect a well-behaved client: %v\n", err)
			os.Exit(1)
		}
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			<-normalStart
			lat[k] = normalClient(ctx, *addr, c, every, &normalErrs, *pid)
		}()
	}

	// The non-readers run in a child process: their goroutines must not
	// delay the well-behaved clients' own (the two would share one
	// scheduler), only the server.
	var attackOut bytes.Buffer
	child := exec.CommandContext(context.Background(), os.Args[0], "--attack-only",
		"--addr", *addr, "--conns", strconv.Itoa(*conns), "--depth", strconv.Itoa(*depth),
		"--sources", strconv.Itoa(*sources), "--duration", duration.String())
	child.Stdout, child.Stderr = &attackOut, os.Stderr
	if err := child.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "nonreaders: cannot start the non-readers: %v\n", err)
		os.Exit(1)
	}

	// Let the non-readers fill their buffers before timing normal clients.
	warm := min(*duration/5, 2*time.Second)
	select {
	case <-ctx.Done():
	case <-time.After(warm):
	}
	close(normalStart)
	nwg.Wait()
	attackErr := child.Wait()
	<-samplerDone

	repliesAfter := priceReplies(*admin)
	var all, cpus []time.Duration
	for _, l := range lat {
		for _, x := range l {
			all = append(all, x.d)
			cpus = append(cpus, x.cpu)
		}
	}
	slices.Sort(all)
	slices.Sort(cpus)
	pctOf := func(v []time.Duration, p float64) time.Duration {
		if len(v) == 0 {
			return 0
		}
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	pct := func(p float64) time.Duration { return pctOf(all, p) }
	fmt.Printf("non-readers: %d connections x %d deep for %s; %s\n", *conns, *depth, *duration, strings.TrimSpace(attackOut.String()))
	if attackErr != nil {
		fmt.Fprintf(os.Stderr, "nonreaders: the non-readers' process failed: %v\n", attackErr)
	}
	fmt.Printf("normal clients: %d requests, %d errors, p50 %s p95 %s p99 %s max %s\n",
		len(all), normalErrs.Load(), ms(pct(0.50)), ms(pct(0.95)), ms(pct(0.99)), ms(pct(1)))
	if *pid > 0 {
		fmt.Printf("server CPU time while a normal request waited (its latency on a core of its own): p50 %s p95 %s p99 %s max %s\n",
			ms(pctOf(cpus, 0.50)), ms(pctOf(cpus, 0.95)), ms(pctOf(cpus, 0.99)), ms(pctOf(cpus, 1)))
		fmt.Printf("server RSS: %.1f MB before, %.1f MB peak\n", float64(rssBefore)/1e6, float64(peak.Load())/1e6)
	}
	if *timeline > 0 {
		printTimeline(*timeline, t0, lat, procSamples)
	}
	if repliesBefore >= 0 && repliesAfter >= 0 {
		fmt.Printf("price replies computed by the server: %d\n", repliesAfter-repliesBefore)
	}
	pass := len(all) > 0 && normalErrs.Load() == 0 && pct(0.99) < *maxP99
	if *pid > 0 {
		pass = pass && float64(peak.Load())/1e6 <= *maxRSS
	}
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	fmt.Printf("verdict: %s (peak RSS <= %.0f MB, normal P99 < %s, 0 normal errors)\n", verdict, *maxRSS, *maxP99)
	if !pass {
		os.Exit(1)
	}
}

// attack runs the non-readers until ctx ends and describes what they did.
func attack(ctx context.Context, addr string, conns, depth, sources int) string {
	batch := bytes.Repeat([]byte(loopclient.PriceRequest), depth)
	var opened, closedByServer, batches atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := loopclient.Source(i, sources)
			nonReader(ctx, addr, src, batch, &opened, &closedByServer, &batches)
		}()
	}
	wg.Wait()
	return fmt.Sprintf("%d opened (%d reopened after the server closed them), %d batches written",
		opened.Load(), closedByServer.Load(), batches.Load())
}

// nonReader writes batches and never reads, reopening the connection when
// the server closes it, until ctx ends.
func nonReader(ctx context.Context, addr string, src net.IP, batch []byte, opened, closedByServer, batches *atomic.Int64) {
	d := loopclient.Dialer(src, 2*time.Second)
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		opened.Add(1)
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		for ctx.Err() == nil {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(batch); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue // the server stopped reading; keep the pressure
				}
				if ctx.Err() == nil {
					closedByServer.Add(1)
				}
				break
			}
			batches.Add(1)
		}
		stop()
		_ = c.Close()
	}
}

// normalClient sends one request at a time every `every` on its keep-alive
// connection c (reconnecting if needed) and returns each reply's latency.
func normalClient(ctx context.Context, addr string, c net.Conn, every time.Duration, errs *atomic.Int64, pid int) []sample {
	var out []sample
	br := bufio.NewReaderSize(c, 4096)
	next := time.Now()
	for ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err != nil {
				errs.Add(1)
				sleep(ctx, 10*time.Millisecond)
				continue
			}
			br = bufio.NewReaderSize(c, 4096)
		}
		sleep(ctx, time.Until(next))
		next = next.Add(every)
		if ctx.Err() != nil {
			break
		}
		cpu0 := processCPU(pid)
		start := time.Now()
		_ = c.SetDeadline(start.Add(5 * time.Second))
		if _, err := io.WriteString(c, loopclient.PriceRequest); err != nil {
			errs.Add(1)
			_ = c.Close()
			c = nil
			continue
		}
		if err := loopclient.ReadOK(br); err != nil {
			errs.Add(1)
			_ = c.Close()
			c = nil
			continue
		}
		d := time.Since(start)
		out = append(out, sample{start, d, time.Duration(processCPU(pid) - cpu0)})
	}
	if c != nil {
		_ = c.Close()
	}
	return out
}

// readRSS returns VmRSS of pid in bytes (0 when unknown).
func readRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// priceReplies sums http_request_duration_seconds_count of the price
// endpoint from the admin /metrics (-1 when unavailable).
func priceReplies(admin string) int64 {
	if admin == "" {
		return -1
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + admin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var total int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "http_request_duration_seconds_count{") && strings.Contains(line, `endpoint="/api/v1/price"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += int64(v)
		}
	}
	return total
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// sample is one normal request: when it was sent and how long its reply took.
type sample struct {
	at  time.Time
	d   time.Duration
	cpu time.Duration // the server's CPU time while it waited (0 without --pid)
}

// processCPU returns the CPU time pid has used (all its threads), in
// nanoseconds, through the process's CPU-time clock (0 when unknown). What
// the server uses while a normal request waits is the work ahead of that
// request, whatever else competes for the core.
func processCPU(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	var ts unix.Timespec
	if unix.ClockGettime(int32((^pid)<<3|2), &ts) != nil { // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
		return 0
	}
	return ts.Nano()
}

// procSample is the server's CPU time (clock ticks) and RSS at an offset
// from the start.
type procSample struct {
	off               time.Duration
	run, wait         int64 // server threads' CPU and run-queue wait (ns)
	selfRun, selfWait int64 // this process's
	rss               int64
}

// printTimeline prints, per interval, the server's CPU use and RSS and the
// normal clients' replies and worst latency.
func printTimeline(every time.Duration, t0 time.Time, lat [][]sample, ps []procSample) {
	type bucket struct {
		n               int
		worst, worstCPU time.Duration
	}
	bs := map[int]*bucket{}
	for _, l := range lat {
		for _, x := range l {
			i := int(x.at.Sub(t0) / every)
			b := bs[i]
			if b == nil {
				b = &bucket{}
				bs[i] = b
			}
			b.n++
			b.worst = max(b.worst, x.d)
			b.worstCPU = max(b.worstCPU, x.cpu)
		}
	}
	fmt.Printf("timeline (interval %s): from, server CPU %% and run-queue wait %%, normal clients' process CPU %% and wait %%, RSS MB, normal replies, worst normal latency, most server CPU time while one waited\n", every)
	for i, j := 0, 0; j < len(ps); i++ {
		from, to := time.Duration(i)*every, time.Duration(i+1)*every
		k := j
		for k < len(ps) && ps[k].off < to {
			k++
		}
		if k == j {
			continue
		}
		var cpu, wait, selfCPU, selfWait float64
		if k-1 > j && ps[k-1].off > ps[j].off {
			span := float64(ps[k-1].off-ps[j].off) / 100
			cpu = float64(ps[k-1].run-ps[j].run) / span
			wait = float64(ps[k-1].wait-ps[j].wait) / span
			selfCPU = float64(ps[k-1].selfRun-ps[j].selfRun) / span
			selfWait = float64(ps[k-1].selfWait-ps[j].selfWait) / span
		}
		b := bs[i]
		if b == nil {
			b = &bucket{}
		}
		fmt.Printf("  %6.1fs %4.0f%% %4.0f%%  %4.0f%% %4.0f%%  %6.1f %6d %8s %8s\n", from.Seconds(), cpu, wait, selfCPU, selfWait, float64(ps[k-1].rss)/1e6, b.n, ms(b.worst), ms(b.worstCPU))
		j = k
	}
}

// readSchedstat returns the CPU time and the run-queue wait of all threads
// of pid, in nanoseconds (/proc/PID/task/*/schedstat; 0 when unknown).
func readSchedstat(pid int) (run, wait int64) {
	if pid <= 0 {
		return 0, 0
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		r, _ := strconv.ParseInt(f[0], 10, 64)
		w, _ := strconv.ParseInt(f[1], 10, 64)
		run += r
		wait += w
	}
	return run, wait
}
