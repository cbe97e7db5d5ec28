// Command adminbench measures the admin write API against a real
// redis-server:
//
//	(w) single writes: PUT /admin/v1/products/{id} from -conns clients in a
//	    closed loop for -duration: writes per second, and the CPU per write
//	    of the engine and of Redis
//	(b) batches: POST /admin/v1/changes with -batch items from
//	    -batch-conns clients: items per second, CPU per item
//	(v) visibility: 3 replicas on the one Redis; -writes writes, each through
//	    the admin port of the next replica; after each reply every replica's
//	    API port is polled until it serves the new price: P50, P90, P99 and
//	    max of the delay from the reply to the last replica serving it
//
// The engine (every replica for v) runs on core 0 (taskset); redis-server on
// core 1. Run the command itself on core 1 too, so that the load stays off
// the engine's core:
//
//	taskset -c 1 go run ./bench/cmd/adminbench -duration 10s -writes 300
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
)

var (
	only       = flag.String("only", "w,b,v", "which parts to run")
	duration   = flag.Duration("duration", 10*time.Second, "length of each throughput run (w, b)")
	conns      = flag.Int("conns", 8, "concurrent clients of (w)")
	batchSize  = flag.Int("batch", 1000, "items per batch of (b)")
	batchConns = flag.Int("batch-conns", 2, "concurrent clients of (b)")
	writes     = flag.Int("writes", 300, "writes measured by (v)")
	repo       = flag.String("repo", ".", "repository root")
)

// token is the write token of the benchmark's tokens file.
const token = "adminbench-0123456789abcdef"

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	dir, err := os.MkdirTemp("", "adminbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/pricing-engine")
	build.Dir, build.Stdout, build.Stderr = *repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("cannot build: %v", err)
	}
	pe := filepath.Join(dir, "pricing-engine")
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("bench write "+token+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	redis, raddr, err := benchproc.StartRedis(context.Background(), "1")
	if err != nil {
		log.Fatal(err)
	}
	defer redis.Stop()
	url := "redis://" + raddr
	if out, err := exec.Command(pe, "import", "--store", url, "--embedded").CombinedOutput(); err != nil {
		log.Fatalf("import: %v %s", err, out)
	}
	args := []string{pe, "--store", url, "--admin-tokens-file", tokens}
	if strings.Contains(*only, "w") {
		if err := throughput(args, redis.Pid(), false); err != nil {
			log.Fatal(err)
		}
	}
	if strings.Contains(*only, "b") {
		if err := throughput(args, redis.Pid(), true); err != nil {
			log.Fatal(err)
		}
	}
	if strings.Contains(*only, "v") {
		if err := visibility(args); err != nil {
			log.Fatal(err)
		}
	}
}

// engine is a started pricing-engine on core 0.
type engine struct {
	*benchproc.Server
	api, admin string
}

// start starts argv on core 0 with free API and admin ports and waits
// until its /readyz answers 200.
func start(argv []string) (*engine, error) {
	api, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := benchproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append(argv[1:len(argv):len(argv)], "--addr", api, "--admin-addr", admin, "--log-level", "warn")
	cmd := benchproc.Pinned(context.Background(), "0", argv[0], args...)
	ready := func() error {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %d", resp.StatusCode)
		}
		return nil
	}
	s, err := benchproc.Start(context.Background(), cmd, 20*time.Second, ready)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return &engine{Server: s, api: api, admin: admin}, nil
}

// adminDo sends one admin request and returns the status, ETag and body.
func adminDo(c *http.Client, method, url, body string, headers ...string) (int, string, []byte, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag"), b, err
}

// throughput runs (w), or (b) when batch is set: clients in a closed
// loop against one engine for -duration, after a warm-up of a tenth of
// it. Each client updates its own products (If-Match: *), so no write
// waits on another's precondition.
func throughput(argv []string, redisPid int, batch bool) error {
	e, err := start(argv)
	if err != nil {
		return err
	}
	defer e.Stop()
	n, what := *conns, "single PUT"
	if batch {
		n, what = *batchConns, fmt.Sprintf("batch of %d", *batchSize)
	}
	var (
		items atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	fail := func(err error) {
		errMu.Lock()
		first = errors.Join(first, err)
		errMu.Unlock()
		stop.Store(true)
	}
	const perClient = 1000 // products per client: P-<1+c*perClient+k>
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for k := 0; !stop.Load(); k++ {
				if batch {
					var b strings.Builder
					b.WriteString(`{"changes":[`)
					for i := range *batchSize {
						if i > 0 {
							b.WriteByte(',')
						}
						fmt.Fprintf(&b, `{"product_id":"P-%d","base_price":"%d.%02d","if_match":"*"}`, 1+c*perClient+i%perClient, 10+k%90, i%100)
					}
					b.WriteString(`]}`)
					code, _, body, err := adminDo(cl, "POST", "http://"+e.admin+"/admin/v1/changes", b.String())
					if err != nil || code != 200 || bytes.Contains(body, []byte(`"error"`)) {
						fail(fmt.Errorf("batch: %d %v %.300s", code, err, body))
						return
					}
					items.Add(int64(*batchSize))
					continue
				}
				path := fmt.Sprintf("/admin/v1/products/P-%d", 1+c*perClient+k%perClient)
				code, _, body, err := adminDo(cl, "PUT", "http://"+e.admin+path, fmt.Sprintf(`{"base_price":"%d.%02d"}`, 10+k%90, k%100), "If-Match: *")
				if err != nil || code != 200 {
					fail(fmt.Errorf("PUT %s: %d %v %s", path, code, err, body))
					return
				}
				items.Add(1)
			}
		}()
	}
	time.Sleep(*duration / 10) // warm-up: connections, scripts loaded, caches
	t0, n0 := time.Now(), items.Load()
	cpu0, cerr := benchproc.CPUTicks(e.Pid(), redisPid)
	time.Sleep(*duration)
	el, got := time.Since(t0), items.Load()-n0
	cpu1, err := benchproc.CPUTicks(e.Pid(), redisPid)
	if cerr == nil {
		cerr = err
	}
	stop.Store(true)
	wg.Wait()
	if first != nil {
		return first
	}
	if cerr != nil {
		return cerr
	}
	ecpu, rcpu := cpu1[0]-cpu0[0], cpu1[1]-cpu0[1]
	part, unit := "w", "write"
	if batch {
		part, unit = "b", "item"
	}
	// Ticks are 10 ms: µs per unit = ticks * 1e4 / units.
	fmt.Printf("(%s) %s, %d clients, %s: %.0f %ss/s; engine %.1f us CPU/%s, redis %.1f us CPU/%s (engine %.0f %% of its core)\n",
		part, what, n, el.Round(time.Millisecond), float64(got)/el.Seconds(), unit,
		float64(ecpu)*1e4/float64(got), unit, float64(rcpu)*1e4/float64(got), unit, float64(ecpu)/el.Seconds())
	return nil
}

// visibility runs (v): 3 replicas; -writes prices of one product, each
// through the admin port of the next replica with If-Match the previous
// reply's ETag; after each reply every replica's API port is polled
// until it answers the new price, and the slowest replica's delay is
// recorded.
func visibility(argv []string) error {
	var reps []*engine
	for range 3 {
		e, err := start(argv)
		if err != nil {
			return err
		}
		defer e.Stop()
		reps = append(reps, e)
	}
	const product = "P-77"
	admin := &http.Client{Timeout: 10 * time.Second}
	clients := make([]*http.Client, len(reps))
	for i := range clients {
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	}
	etag := "*"
	var delays []time.Duration
	for i := range *writes {
		price := fmt.Sprintf("%d.%02d", 100+i, (i*7)%100)
		code, tag, body, err := adminDo(admin, "PUT", "http://"+reps[i%3].admin+"/admin/v1/products/"+product, `{"base_price":"`+price+`"}`, "If-Match: "+etag)
		replied := time.Now()
		if err != nil || code != 200 {
			return fmt.Errorf("write %d: %d %v %s", i, code, err, body)
		}
		etag = tag
		want := `"base_price":` + strings.TrimRight(strings.TrimRight(price, "0"), ".") + `,`
		req := `{"product_id":"` + product + `","user_location":"NY","is_prime_member":false}`
		worst, err := benchproc.Spread(replied, len(reps), 5*time.Second, func(j int) error {
			resp, err := clients[j].Post("http://"+reps[j].api+"/api/v1/price", "application/json", strings.NewReader(req))
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(b, []byte(want)) {
				return fmt.Errorf("served %s", b)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		delays = append(delays, worst)
	}
	fmt.Printf("(v) %d admin writes, 3 replicas, reply -> every replica serving the new price: %s\n",
		len(delays), benchproc.Summary(delays))
	return nil
}
