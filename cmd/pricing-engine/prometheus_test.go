package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2EPrometheusScrape starts a real Prometheus (Debian package
// prometheus) scraping the running service's admin port every second while
// load runs, and asks its HTTP API for the P95 of POST /api/v1/price, the
// query the SLO alert uses. With the seed latency profile the answer must be
// above the fastest lookup and below the 150 ms SLO.
func TestE2EPrometheusScrape(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus); .ci/run installs it")
	}
	p := startServer(t, append(loopbackArgs, "--lookup-latency=seed"))

	promAddr := freeLoopbackAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pricing-engine
    static_configs:
      - targets: ['%s']
`, p.admin)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	if err := prom.Start(); err != nil {
		t.Fatalf("cannot start prometheus: %v", err)
	}
	t.Cleanup(func() { _ = prom.Process.Kill(); _ = prom.Wait() })

	// Load until the query has an answer (bounded by the test's deadline).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"product_id":"P-%d","user_location":"NY"}`, 100+w)
			for i := 0; i < 20000 && ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.api+"/api/v1/price", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if resp, err := p.client.Do(req); err == nil {
					_ = resp.Body.Close()
				}
			}
		}()
	}

	const q = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{endpoint="/api/v1/price",code="200"}[10s])))`
	var p95 float64
	found := false
	for !found && ctx.Err() == nil {
		if v, ok := promQuery(ctx, promAddr, q); ok {
			p95, found = v, true
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond): // poll interval, not synchronisation
		}
	}
	if !found {
		t.Fatal("Prometheus never answered the P95 query with a value")
	}
	t.Logf("P95 of POST /api/v1/price according to Prometheus: %.1f ms", p95*1000)
	if p95 < 0.010 || p95 > 0.150 {
		t.Fatalf("P95 = %.4f s, want within (0.010, 0.150] for the seed profile", p95)
	}
	if up, ok := promQuery(ctx, promAddr, `up{job="pricing-engine"}`); !ok || up != 1 {
		t.Fatalf("up{job=\"pricing-engine\"} = %v (answered %v), want 1", up, ok)
	}
}

// promQuery runs an instant query and returns the first sample's value.
func promQuery(ctx context.Context, addr, query string) (float64, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) == 0 {
		return 0, false
	}
	s, ok := r.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v { // NaN: no samples in the window yet
		return 0, false
	}
	return v, true
}

// freeLoopbackAddr returns a loopback address with a port free right now,
// for a program that must be told its port.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
