// Command storebench measures the Redis store against its peers, in the
// same run, interleaved round by round (the VM's speed drifts):
//
//	(a) hits:      pricing-engine --store redis (client-side cache warm) vs the memory store
//	(b) no cache:  pricing-engine --store redis --store-cache-entries 0 vs fasthttp + go-redis
//	               (bench/refserver/fastredis), with Redis's CPU per request
//	(c) changes:   3 replicas on one Redis: time from a SET's reply to every replica
//	               answering the new price, over -changes changes (P50, P99)
//	(r) rueidis:   pricing-engine --store redis against fasthttp + rueidis
//	               (bench/refserver/fastrueidis), client-side cache on (both) and
//	               off (--store-cache-entries 0, --client-cache=false)
//	(s) shared:    no cache, misses read on the event loops' own connections (the
//	               default) against --store-shared-only (sender goroutines)
//
// Every cell measures the largest rate (wrk, closed loop) and, with
// -open-rate, the CPU per request at that fixed open-loop rate
// (bin/loadtest, epoll engine): server and Redis CPU µs per request, the
// comparison of efficiency that does not depend on who saturates first.
//
// The server runs on core 0 (taskset); the load generator and redis-server
// share core 1.
//
//	go run ./bench/cmd/storebench -rounds 3 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
)

var (
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	duration = flag.Duration("duration", 10*time.Second, "wrk duration per cell")
	warmup   = flag.Duration("warmup", 2*time.Second, "wrk warm-up per cell")
	conns    = flag.Int("conns", 100, "wrk connections")
	changes  = flag.Int("changes", 200, "price changes for (c)")
	only     = flag.String("only", "a,b,c,r", "which parts to run")
	repo     = flag.String("repo", ".", "repository root")
	openRate = flag.Float64("open-rate", 20000, "open-loop arrival rate (req/s) of each cell's CPU-per-request run (0: none)")
	openDur  = flag.Duration("open-duration", 10*time.Second, "length of the open-loop run")
	openConn = flag.Int("open-conns", 500, "connections of the open-loop run")
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	dir, err := os.MkdirTemp("", "storebench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/pricing-engine", "./cmd/loadtest",
		"./bench/refserver/fastredis", "./bench/refserver/fastrueidis")
	build.Dir, build.Stdout, build.Stderr = *repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("cannot build: %v", err)
	}
	redis, raddr, err := benchproc.StartRedis(context.Background(), "1")
	if err != nil {
		log.Fatal(err)
	}
	defer redis.Stop()
	url := "redis://" + raddr
	imp := exec.Command(filepath.Join(dir, "pricing-engine"), "import", "--store", url, "--embedded")
	if out, err := imp.CombinedOutput(); err != nil {
		log.Fatalf("import: %v %s", err, out)
	}
	pe := filepath.Join(dir, "pricing-engine")
	loadtest = filepath.Join(dir, "loadtest")
	fr := filepath.Join(dir, "fastrueidis")
	peer := map[string][]string{
		"memory":                {pe},
		"redis-cached":          {pe, "--store", url},
		"redis-no-cache":        {pe, "--store", url, "--store-cache-entries", "0"},
		"redis-no-cache-shared": {pe, "--store", url, "--store-cache-entries", "0", "--store-shared-only"},
		"fastredis":             {filepath.Join(dir, "fastredis"), "--store", url},
		"fastrueidis-cache":     {fr, "--store", url},
		"fastrueidis-no-cache":  {fr, "--store", url, "--client-cache=false"},
	}
	// Each part's cells are kept apart (a server may run in two parts).
	type pair struct{ part, a, b string }
	var pairs []pair
	parts := *only
	if strings.Contains(parts, "a") {
		pairs = append(pairs, pair{"a", "memory", "redis-cached"})
	}
	if strings.Contains(parts, "b") {
		pairs = append(pairs, pair{"b", "fastredis", "redis-no-cache"})
	}
	if strings.Contains(parts, "r") {
		pairs = append(pairs, pair{"r", "fastrueidis-cache", "redis-cached"}, pair{"r", "fastrueidis-no-cache", "redis-no-cache"})
	}
	if strings.Contains(parts, "s") {
		pairs = append(pairs, pair{"s", "redis-no-cache-shared", "redis-no-cache"})
	}
	results := map[string][]cell{}
	for r := 1; r <= *rounds; r++ {
		for _, p := range pairs {
			names := [2]string{p.a, p.b}
			if r%2 == 0 { // alternate which side runs first
				names[0], names[1] = names[1], names[0]
			}
			for _, name := range names {
				open := *openRate
				if p.part != "r" && p.part != "s" {
					open = 0
				}
				c, err := runCell(peer[name], redis.Pid(), open)
				if err != nil {
					log.Fatalf("%s: %v", name, err)
				}
				log.Printf("round %d %-20s %9.0f req/s  server %.1f us CPU/req  redis %.1f us CPU/req%s", r, name, c.rps, c.cpuUS, c.redisUS, c.openLine())
				results[p.part+":"+name] = append(results[p.part+":"+name], c)
			}
		}
	}
	report := func(part, name, peerName string) {
		a, b := results[part+":"+name], results[part+":"+peerName]
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
		report("a", "redis-cached", "memory")
	}
	if strings.Contains(parts, "b") {
		report("b", "redis-no-cache", "fastredis")
		report("b", "fastredis", "redis-no-cache")
	}
	if strings.Contains(parts, "r") {
		report("r", "redis-cached", "fastrueidis-cache")
		report("r", "redis-no-cache", "fastrueidis-no-cache")
	}
	if strings.Contains(parts, "s") {
		report("s", "redis-no-cache", "redis-no-cache-shared")
	}
	if *openRate > 0 && (strings.Contains(parts, "r") || strings.Contains(parts, "s")) {
		openReport := func(part, name, peerName string) {
			a, b := results[part+":"+name], results[part+":"+peerName]
			var eff, redisEff []float64
			for i := range a {
				eff = append(eff, b[i].openCPU/a[i].openCPU)
				if a[i].openRedis > 0 {
					redisEff = append(redisEff, b[i].openRedis/a[i].openRedis)
				}
			}
			med := func(cs []cell, f func(cell) float64) float64 { return median(cs, f) }
			// CPU per request depends on the rate (batching, wake-ups):
			// a side that did not reach the offered rate is flagged.
			held := func(cs []cell) string {
				r := med(cs, func(c cell) float64 { return c.openRPS })
				if r < 0.95**openRate {
					return fmt.Sprintf("%.0f (**below the offered rate**)", r)
				}
				return fmt.Sprintf("%.0f", r)
			}
			fmt.Printf("| %s | %s | %.1f | %.1f | %.1f ms | %d | %s | %s | %.1f | %.1f | **%.2fx** (per round %s) | %.2fx |\n",
				name, held(a), med(a, func(c cell) float64 { return c.openCPU }),
				med(a, func(c cell) float64 { return c.openRedis }), med(a, func(c cell) float64 { return c.openP95 }),
				sumFailures(a), peerName, held(b), med(b, func(c cell) float64 { return c.openCPU }), med(b, func(c cell) float64 { return c.openRedis }),
				medianF(slices.Clone(eff)), fmtRatios(eff), medianF(redisEff))
		}
		fmt.Printf("\nOpen loop at %.0f req/s (%s, %d connections, bin/loadtest --engine epoll):\n\n", *openRate, *openDur, *openConn)
		fmt.Println("| server | achieved req/s | server CPU us/req | Redis CPU us/req | P95 | failures | peer | peer achieved req/s | peer server CPU us/req | peer Redis CPU us/req | CPU efficiency vs peer (peer CPU / ours) | Redis CPU vs peer |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
		if strings.Contains(parts, "r") {
			openReport("r", "redis-cached", "fastrueidis-cache")
			openReport("r", "redis-no-cache", "fastrueidis-no-cache")
		}
		if strings.Contains(parts, "s") {
			openReport("s", "redis-no-cache", "redis-no-cache-shared")
		}
	}
	if strings.Contains(parts, "c") {
		if err := invalidation(pe, url, raddr); err != nil {
			log.Fatal(err)
		}
	}
}

// cell is one server's figures in one round: the largest rate (wrk) and,
// with an open-loop run, the CPU per request at a fixed rate.
type cell struct {
	rps, cpuUS, redisUS float64

	openRPS, openCPU, openRedis, openP95 float64
	openFailures                         int
}

func (c cell) openLine() string {
	if c.openRPS == 0 {
		return ""
	}
	return fmt.Sprintf("  | open loop %.0f req/s: server %.1f us CPU/req, redis %.1f, P95 %.1f ms, %d failures",
		c.openRPS, c.openCPU, c.openRedis, c.openP95, c.openFailures)
}

func sumFailures(cs []cell) int {
	n := 0
	for _, c := range cs {
		n += c.openFailures
	}
	return n
}

func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, r := range v {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, ", ")
}

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
	*benchproc.Server
	addr string
}

// start starts argv on core 0 with a free API port (and, for
// pricing-engine, an admin port) and waits until it answers a price
// request with 200.
func start(argv []string) (*server, error) {
	addr, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append(argv[1:len(argv):len(argv)], "--addr", addr)
	if strings.HasSuffix(argv[0], "pricing-engine") {
		args = append(args, "--admin-addr", "127.0.0.1:0", "--log-level", "warn")
	}
	cmd := benchproc.Pinned(context.Background(), "0", argv[0], args...)
	ready := func() error {
		code, _, err := post(http.DefaultClient, addr, "P-500")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("answered %d", code)
		}
		return err
	}
	s, err := benchproc.Start(context.Background(), cmd, 20*time.Second, ready)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	return &server{Server: s, addr: addr}, nil
}

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

// loadtest is the built bin/loadtest.
var loadtest string

func runCell(argv []string, redisPid int, openRate float64) (cell, error) {
	s, err := start(argv)
	if err != nil {
		return cell{}, err
	}
	defer s.Stop()
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
	t0, err := benchproc.CPUTicks(s.Pid(), redisPid)
	if err != nil {
		return cell{}, err
	}
	rps, err := wrk(*duration)
	if err != nil {
		return cell{}, err
	}
	t1, err := benchproc.CPUTicks(s.Pid(), redisPid)
	if err != nil {
		return cell{}, err
	}
	// Ticks are 10 ms: µs per request = ticks * 1e4 / requests.
	reqs := rps * duration.Seconds()
	c := cell{rps: rps, cpuUS: float64(t1[0]-t0[0]) * 1e4 / reqs, redisUS: float64(t1[1]-t0[1]) * 1e4 / reqs}
	if openRate > 0 {
		if err := openLoop(s, redisPid, openRate, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// openLoop offers rate requests per second for -open-duration with
// bin/loadtest's epoll engine on core 1 (random products of the embedded
// catalog, the six locations of post-random.lua, every reply checked), and
// records the server's and Redis's CPU per completed request.
func openLoop(s *server, redisPid int, rate float64, c *cell) error {
	report := filepath.Join(os.TempDir(), "storebench-open-"+strconv.Itoa(s.Pid())+".json")
	defer os.Remove(report)
	t0, err := benchproc.CPUTicks(s.Pid(), redisPid)
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", "-c", "1", loadtest, "--url", "http://"+s.addr+"/api/v1/price",
		"--rate", strconv.FormatFloat(rate, 'f', 0, 64), "--duration", openDur.String(), "--engine", "epoll",
		"--users", strconv.Itoa(*openConn), "--products", "0-9999", "--locations", "NY,LA,MIA,SF,CHI,ZZ",
		"--quiet", "--json", report)
	if out, err := cmd.CombinedOutput(); err != nil {
		// A non-zero exit with a report is a run with failures: they
		// are counted below.
		if _, statErr := os.Stat(report); statErr != nil {
			return fmt.Errorf("loadtest: %v\n%s", err, out)
		}
	}
	t1, err := benchproc.CPUTicks(s.Pid(), redisPid)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return fmt.Errorf("cannot read the loadtest report: %w", err)
	}
	var rep struct {
		Successes  int     `json:"successes"`
		Failures   int     `json:"failures"`
		Elapsed    float64 `json:"elapsed_seconds"`
		Throughput float64 `json:"throughput_rps"`
		Latency    struct {
			P95 float64 `json:"p95_ms"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("cannot decode the loadtest report: %w", err)
	}
	if rep.Successes == 0 {
		return fmt.Errorf("open loop at %.0f req/s: no successful request", rate)
	}
	n := float64(rep.Successes + rep.Failures)
	c.openRPS, c.openP95, c.openFailures = rep.Throughput, rep.Latency.P95, rep.Failures
	c.openCPU = float64(t1[0]-t0[0]) * 1e4 / n
	c.openRedis = float64(t1[1]-t0[1]) * 1e4 / n
	return nil
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

// invalidation starts 3 replicas, then changes P-1's price -changes times:
// after each SET's reply it polls every replica until each answers the
// new price, and records the slowest replica's delay.
func invalidation(pe, url, raddr string) error {
	var reps []*server
	for i := 0; i < 3; i++ {
		s, err := start([]string{pe, "--store", url})
		if err != nil {
			return err
		}
		defer s.Stop()
		reps = append(reps, s)
	}
	rc, err := net.Dial("tcp", raddr)
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
		worst, err := benchproc.Spread(time.Now(), len(reps), 5*time.Second, func(j int) error {
			code, body, err := post(clients[j], reps[j].addr, "P-1")
			if err != nil {
				return err
			}
			if !strings.Contains(body, want) {
				return fmt.Errorf("served %d %s", code, body)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		delays = append(delays, worst)
	}
	fmt.Printf("\n(c) %d changes, 3 replicas, SET reply -> every replica serving the new price: %s\n",
		len(delays), benchproc.Summary(delays))
	return nil
}
