// Command storebench measures the Redis store against its peers, in the
// same run, interleaved round by round (the VM's speed drifts):
//
//	(a) hits:      pricing-engine --store redis (client-side cache warm) vs the memory store
//	(b) no cache:  pricing-engine --store redis --store-cache-entries 0 vs fasthttp + go-redis
//	               (bench/refserver/fastredis), with Redis's CPU per request
//	(c) changes:   3 replicas on one Redis: time from a SET's reply to every replica
//	               answering the new price, over -changes changes (P50, P99)
//
// The server runs on core 0 (taskset); wrk and redis-server share core 1.
//
//	go run ./bench/cmd/storebench -rounds 3 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	duration = flag.Duration("duration", 10*time.Second, "wrk duration per cell")
	warmup   = flag.Duration("warmup", 2*time.Second, "wrk warm-up per cell")
	conns    = flag.Int("conns", 100, "wrk connections")
	changes  = flag.Int("changes", 200, "price changes for (c)")
	only     = flag.String("only", "a,b,c", "which parts to run")
	repo     = flag.String("repo", ".", "repository root")
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	dir, err := os.MkdirTemp("", "storebench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/pricing-engine", "./bench/refserver/fastredis")
	build.Dir, build.Stdout, build.Stderr = *repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("cannot build: %v", err)
	}
	rport := freePort()
	redis := exec.Command("taskset", "-c", "1", "redis-server", "--port", strconv.Itoa(rport), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--logfile", "")
	if err := redis.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = redis.Process.Kill(); _ = redis.Wait() }()
	url := "redis://127.0.0.1:" + strconv.Itoa(rport)
	waitTCP("127.0.0.1:" + strconv.Itoa(rport))
	imp := exec.Command(filepath.Join(dir, "pricing-engine"), "import", "--store", url, "--embedded")
	if out, err := imp.CombinedOutput(); err != nil {
		log.Fatalf("import: %v %s", err, out)
	}
	pe := filepath.Join(dir, "pricing-engine")
	peer := map[string][]string{
		"memory":         {pe},
		"redis-cached":   {pe, "--store", url},
		"redis-no-cache": {pe, "--store", url, "--store-cache-entries", "0"},
		"fastredis":      {filepath.Join(dir, "fastredis"), "--store", url},
	}
	results := map[string][]cell{}
	parts := *only
	for r := 1; r <= *rounds; r++ {
		var order [][2]string
		if strings.Contains(parts, "a") {
			order = append(order, [2]string{"memory", "redis-cached"})
		}
		if strings.Contains(parts, "b") {
			order = append(order, [2]string{"fastredis", "redis-no-cache"})
		}
		for _, pair := range order {
			if r%2 == 0 { // alternate which side runs first
				pair[0], pair[1] = pair[1], pair[0]
			}
			for _, name := range pair {
				c, err := runCell(peer[name], redis.Process.Pid)
				if err != nil {
					log.Fatalf("%s: %v", name, err)
				}
				log.Printf("round %d %-15s %9.0f req/s  server %.1f us CPU/req  redis %.1f us CPU/req", r, name, c.rps, c.cpuUS, c.redisUS)
				results[name] = append(results[name], c)
			}
		}
	}
	report := func(name, peerName string) {
		a, b := results[name], results[peerName]
		var ratios []float64
		for i := range a {
			ratios = append(ratios, a[i].rps/b[i].rps)
		}
		fmt.Printf("| %s | %.0f | %.1f | %.1f | %s %.0f | %.2fx |\n", name, median(a, func(c cell) float64 { return c.rps }),
			median(a, func(c cell) float64 { return c.cpuUS }), median(a, func(c cell) float64 { return c.redisUS }),
			peerName, median(b, func(c cell) float64 { return c.rps }), medianF(ratios))
	}
	if len(results) > 0 {
		fmt.Println("| server | req/s (median) | server CPU us/req | Redis CPU us/req | peer req/s | ratio (median of rounds) |")
		fmt.Println("|---|---|---|---|---|---|")
	}
	if strings.Contains(parts, "a") {
		report("redis-cached", "memory")
	}
	if strings.Contains(parts, "b") {
		report("redis-no-cache", "fastredis")
		report("fastredis", "redis-no-cache")
	}
	if strings.Contains(parts, "c") {
		if err := invalidation(pe, url, rport); err != nil {
			log.Fatal(err)
		}
	}
}

type cell struct{ rps, cpuUS, redisUS float64 }

func median(cs []cell, f func(cell) float64) float64 {
	var v []float64
	for _, c := range cs {
		v = append(v, f(c))
	}
	return medianF(v)
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// server is a started server on core 0.
type server struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
}

func start(argv []string) (*server, error) {
	port := freePort()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"-c", "0"}, argv...)
	args = append(args, "--addr", addr)
	if strings.HasSuffix(argv[0], "pricing-engine") {
		args = append(args, "--admin-addr", "127.0.0.1:0", "--log-level", "warn")
	}
	cmd := exec.Command("taskset", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, out: &out}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, err := post(http.DefaultClient, addr, "P-500")
		if err == nil && code == 200 {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not answering 200: %v %d\n%s", argv[0], err, code, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

func post(c *http.Client, addr, product string) (int, string, error) {
	body := `{"product_id":"` + product + `","user_location":"NY","is_prime_member":true}`
	resp, err := c.Post("http://"+addr+"/api/v1/price", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

var rpsLine = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func runCell(argv []string, redisPid int) (cell, error) {
	s, err := start(argv)
	if err != nil {
		return cell{}, err
	}
	defer s.stop()
	wrk := func(d time.Duration) (float64, error) {
		cmd := exec.Command("taskset", "-c", "1", "wrk", "-t1", "-c"+strconv.Itoa(*conns), "-d"+d.String(),
			"-s", filepath.Join(*repo, "bench/wrk/post-random.lua"), "http://"+s.addr+"/api/v1/price")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("wrk: %v %s", err, out)
		}
		if bytes.Contains(out, []byte("Non-2xx")) {
			return 0, fmt.Errorf("non-2xx replies:\n%s", out)
		}
		m := rpsLine.FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}
	if err := warmAll(s.addr); err != nil {
		return cell{}, err
	}
	if _, err := wrk(*warmup); err != nil {
		return cell{}, err
	}
	s0, r0 := cpuTicks(s.cmd.Process.Pid), cpuTicks(redisPid)
	rps, err := wrk(*duration)
	if err != nil {
		return cell{}, err
	}
	s1, r1 := cpuTicks(s.cmd.Process.Pid), cpuTicks(redisPid)
	reqs := rps * duration.Seconds()
	return cell{rps: rps, cpuUS: float64(s1-s0) * 1e4 / reqs, redisUS: float64(r1-r0) * 1e4 / reqs}, nil
}

// warmAll asks for every product of the embedded catalog at every
// location once, so that a client-side cache holds the whole data set.
func warmAll(addr string) error {
	const workers = 8
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for i := w; i < 10_000; i += workers {
				for _, loc := range []string{"NY", "ZZ"} {
					body := `{"product_id":"P-` + strconv.Itoa(i) + `","user_location":"` + loc + `","is_prime_member":true}`
					resp, err := c.Post("http://"+addr+"/api/v1/price", "application/json", strings.NewReader(body))
					if err != nil {
						errs <- err
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			errs <- nil
		}()
	}
	var all error
	for w := 0; w < workers; w++ {
		all = errors.Join(all, <-errs)
	}
	return all
}

// cpuTicks is utime+stime of pid in clock ticks (100 Hz), the threads of
// the taskset child included (taskset execs the program).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// invalidation starts 3 replicas, then changes P-1's price -changes times:
// after each SET's reply it polls every replica until each answers the
// new price, and records the slowest replica's delay.
func invalidation(pe, url string, rport int) error {
	var reps []*server
	for i := 0; i < 3; i++ {
		s, err := start([]string{pe, "--store", url})
		if err != nil {
			return err
		}
		defer s.stop()
		reps = append(reps, s)
	}
	rc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(rport))
	if err != nil {
		return err
	}
	defer rc.Close()
	rr := bufio.NewReader(rc)
	clients := make([]*http.Client, len(reps))
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	}
	var delays []time.Duration
	for i := 0; i < *changes; i++ {
		price := fmt.Sprintf("%d.%02d", 100+i, i%100)
		want := `"base_price":` + strings.TrimRight(strings.TrimRight(price, "0"), ".")
		cmd := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$19\r\npricing:product:P-1\r\n$%d\r\n%s\r\n", len(price), price)
		if _, err := io.WriteString(rc, cmd); err != nil {
			return err
		}
		if line, err := rr.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("SET: %q %v", line, err)
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var worst time.Duration
		var firstErr error
		for j, s := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := t0.Add(5 * time.Second)
				for {
					_, body, err := post(clients[j], s.addr, "P-1")
					if err == nil && strings.Contains(body, want) {
						d := time.Since(t0)
						mu.Lock()
						worst = max(worst, d)
						mu.Unlock()
						return
					}
					if time.Now().After(deadline) {
						mu.Lock()
						firstErr = errors.Join(firstErr, fmt.Errorf("replica %d never served %s: %s %v", j, want, body, err))
						mu.Unlock()
						return
					}
					// Poll, do not spin: three spinning clients would take
					// the CPU the replicas need to apply the change.
					time.Sleep(200 * time.Microsecond)
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		delays = append(delays, worst)
	}
	slices.Sort(delays)
	p := func(q float64) time.Duration { return delays[min(len(delays)-1, int(q*float64(len(delays))))] }
	fmt.Printf("\n(c) %d changes, 3 replicas, SET reply -> every replica serving the new price: P50 %s, P90 %s, P99 %s, max %s\n",
		len(delays), p(0.50), p(0.90), p(0.99), delays[len(delays)-1])
	return nil
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitTCP(addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("redis-server not listening on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
