package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// Bounds of TestE2EAdminThreeReplicas.
const (
	fleetWrites = 60 // admin writes measured
	// fleetServeWithin is what the test asserts for every write: each
	// replica serves it within this time. The spec's figure (P99 under
	// 100 ms) is measured by bench/cmd/adminbench on a quiet machine; the
	// test logs its own percentiles, which on a shared machine reflect
	// the load of everything else running.
	fleetServeWithin = 2 * time.Second
	fleetPollEvery   = 200 * time.Microsecond // poll pacing, not synchronisation
)

// TestE2EAdminThreeReplicas runs three replicas on one redis-server (on
// a three-node Cluster, and behind Sentinel), writes a price through the
// admin API of each replica in turn, and after each write's reply polls
// the API port of every replica until each serves the new price. Every
// write must be served everywhere; the delays from the reply to the last
// replica serving it are logged (P50, P99, max). Then writers on every
// replica race: exactly one wins each version, and one idempotent request
// sent to every replica at once is applied once.
func TestE2EAdminThreeReplicas(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{})
		threeReplicas(t, srv.URL())
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		threeReplicas(t, c.URL())
	})
	t.Run("sentinel", func(t *testing.T) {
		sn := redistest.StartSentinel(t)
		threeReplicas(t, sn.URL())
	})
}

func threeReplicas(t *testing.T, store string) {
	if imp := runBinary(t, []string{"import", "--store", store, "--embedded"}); imp.code != 0 {
		t.Fatalf("import: exit %d\n%s", imp.code, imp.stderr)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	testfile.Replace(t, tokens, "ops write "+adminWriteToken+"\n")
	var reps []*proc
	for range 3 {
		reps = append(reps, startServer(t, append([]string{"--store", store, "--admin-tokens-file", tokens}, loopbackArgs...)))
	}
	const product = "P-42"
	delays, err := measureVisibility(reps, product, fleetWrites)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(delays)
	q := func(p float64) time.Duration { return delays[min(len(delays)-1, int(p*float64(len(delays))))] }
	t.Logf("%d admin writes, 3 replicas: reply -> every replica serving the new price: P50 %v, P99 %v, max %v",
		len(delays), q(0.50), q(0.99), delays[len(delays)-1])
	// Every write left one audit entry, made by the replica that took it.
	code, _, body := reps[0].adminDo("GET", "/admin/v1/audit?key=product:"+product+"&limit=1000", adminWriteToken, "")
	if code != 200 || strings.Count(body, `"actor":"ops"`) != fleetWrites {
		t.Errorf("audit: %d, %d entries, want %d", code, strings.Count(body, `"actor":"ops"`), fleetWrites)
	}
	raceAcrossReplicas(t, reps, product, fleetWrites)
}

// raceAcrossReplicas: product is at version v. In each round two writers
// per replica send If-Match of the current version at once: exactly one
// wins (200), the others answer 412. Then one request with an
// Idempotency-Key goes to every replica at once: the same reply
// everywhere, one new version.
func raceAcrossReplicas(t *testing.T, reps []*proc, product string, v int) {
	path := "/admin/v1/products/" + product
	const rounds, perReplica = 4, 2
	for round := range rounds {
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses []int
		)
		for i := range len(reps) * perReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _, _ := adminPut(reps[i%len(reps)].admin, path, fmt.Sprintf(`{"base_price":"%d.%02d"}`, 300+round, i), fmt.Sprintf(`If-Match: "%d"`, v))
				mu.Lock()
				statuses = append(statuses, code)
				mu.Unlock()
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 200:
				won++
			case 412:
			default:
				t.Errorf("round %d: status %d", round, s)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers on %d replicas won version %d, want exactly 1 (%v)", round, won, len(reps), v+1, statuses)
		}
		v++
	}
	var (
		wg      sync.WaitGroup
		replies = make([]string, len(reps))
	)
	for i, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, etag, body := adminPut(r.admin, path, `{"base_price":"399.00"}`, fmt.Sprintf(`If-Match: "%d"`, v), "Idempotency-Key: fleet-retry")
			replies[i] = fmt.Sprintf("%d %s %s", code, etag, body)
		}()
	}
	wg.Wait()
	want := fmt.Sprintf(`200 "%d" `, v+1)
	for i, r := range replies {
		// Status, ETag and body alike: the first reply, replayed.
		if !strings.HasPrefix(r, want) || r != replies[0] {
			t.Errorf("replica %d answered the idempotent request %q; want %q... and the same as replica 0 (%q)", i, r, want, replies[0])
		}
	}
	code, etag, _ := adminGet(reps[0].admin, path)
	if code != 200 || etag != fmt.Sprintf(`"%d"`, v+1) {
		t.Errorf("after the idempotent request on every replica: %d ETag %s, want version %d (applied once)", code, etag, v+1)
	}
}

// adminPut sends one PUT with the write token and returns the status,
// the ETag and the body.
func adminPut(addr, path, body string, headers ...string) (int, string, string) {
	req, err := http.NewRequest("PUT", "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+adminWriteToken)
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	return roundTrip(req)
}

func adminGet(addr, path string) (int, string, string) {
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+adminWriteToken)
	return roundTrip(req)
}

func roundTrip(req *http.Request) (int, string, string) {
	c := &http.Client{Timeout: httpTimeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), string(b)
}

// measureVisibility writes n prices of product, each through the admin
// port of the next replica (If-Match: the version the previous write
// returned), and returns per write the time from its reply until every
// replica's API port answered the new price.
func measureVisibility(reps []*proc, product string, n int) ([]time.Duration, error) {
	clients := make([]*http.Client, len(reps))
	for i := range clients {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		clients[i] = &http.Client{Timeout: httpTimeout, Transport: tr}
	}
	admin := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{}}
	defer admin.CloseIdleConnections()
	etag := `*` // the imported entry exists, unversioned
	var delays []time.Duration
	for i := range n {
		price := fmt.Sprintf("%d.%02d", 200+i, (i*7)%100)
		req, err := http.NewRequest("PUT", "http://"+reps[i%len(reps)].admin+"/admin/v1/products/"+product, strings.NewReader(`{"base_price":"`+price+`"}`))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+adminWriteToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("If-Match", etag)
		resp, err := admin.Do(req)
		if err != nil {
			return nil, fmt.Errorf("write %d: %w", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		written := time.Now()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("write %d: %d %s", i, resp.StatusCode, b)
		}
		etag = resp.Header.Get("ETag")
		want := `"base_price":` + trimDecimal(price) + `,`
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			worst time.Duration
			errs  []string
		)
		for j, r := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, last, ok := pollPrice(clients[j], r.api, product, want, written)
				mu.Lock()
				defer mu.Unlock()
				if !ok {
					errs = append(errs, fmt.Sprintf("replica %d did not serve %s within %s after write %d (last reply %s)", j, want, fleetServeWithin, i, last))
				}
				worst = max(worst, d)
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		delays = append(delays, worst)
	}
	return delays, nil
}

// pollPrice asks addr for product until the reply holds want, up to
// fleetServeWithin after since; it returns the time from since.
func pollPrice(c *http.Client, addr, product, want string, since time.Time) (time.Duration, string, bool) {
	body := `{"product_id":"` + product + `","user_location":"NY","is_prime_member":false}`
	last := ""
	for {
		resp, err := c.Post("http://"+addr+"/api/v1/price", "application/json", strings.NewReader(body))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if resp.StatusCode == 200 && strings.Contains(last, want) {
				return time.Since(since), last, true
			}
		} else {
			last = err.Error()
		}
		if time.Since(since) > fleetServeWithin {
			return time.Since(since), last, false
		}
		time.Sleep(fleetPollEvery)
	}
}

// trimDecimal is a decimal's shortest form: "200.10" -> "200.1".
func trimDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
