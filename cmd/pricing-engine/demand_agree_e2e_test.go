package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
)

// demandQuote asks the admin port (which prices with the merged demand
// without counting) for the list price and demand multiplier of item.
func (p *proc) demandQuote(item string) (list, multiplier string) {
	p.t.Helper()
	code, got := p.price(p.admin, strings.TrimSuffix(item, "}")+`,"explain":true}`)
	var e explained
	if err := json.Unmarshal([]byte(got), &e); code != 200 || err != nil {
		p.t.Fatalf("admin price: %d %s (%v)", code, got, err)
	}
	for _, f := range e.Explanation {
		if f.Factor == "demand" {
			return string(e.List), string(f.Value)
		}
	}
	p.t.Fatalf("no demand factor in %s", got)
	return "", ""
}

// TestE2EReplicasAgreeAfterRestart: two replicas on one Redis with shared
// demand and max_step; demand on one of them pushes the fleet past a
// tier and the smoothed multiplier up. A replica restarted meanwhile
// quotes the same list price as its peer within one exchange interval
// of serving (it reads the fleet's multiplier at start), instead of
// starting again from 1 while its peer is above it.
func TestE2EReplicasAgreeAfterRestart(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	if r := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); r.code != 0 {
		t.Fatalf("import: exit %d %s", r.code, r.stderr)
	}
	path := filepath.Join(t.TempDir(), "agree.yaml")
	// A 6 s window: 500 ms buckets; the fleet's figures are read every
	// merge (250 ms), and the multiplier steps every 6 s.
	writeRules(t, path, `version: "agree.1"
demand:
  window: 6s
  shared: true
  max_step: 0.05
  tiers:
    - {above: 30, multiplier: 1.05}
    - {above: 60, multiplier: 1.15}
`)
	// exchangeInterval is the merge interval (demand.DefaultMergeInterval),
	// longer than a quarter bucket here; pollSlack allows for the admin
	// requests of the poll on a loaded machine.
	const exchangeInterval, pollSlack = 250 * time.Millisecond, 750 * time.Millisecond
	args := append([]string{"--store", srv.URL(), "--rules", path, "--drain-delay=0s", "--shutdown-timeout=5s"}, loopbackArgs...)
	a, b := startServer(t, args), startServer(t, args)
	const item = `{"product_id":"P-7","user_location":"LA"}`

	// Demand on a's API port for the whole test: about 50 requests a
	// second, 300 a window (the 1.15 tier).
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: httpTimeout}
		defer client.CloseIdleConnections()
		tick := time.NewTicker(20 * time.Millisecond) // the request rate
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+a.api+"/api/v1/price", strings.NewReader(item))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()

	// The multiplier steps at the first period whose window saw the
	// demand: within two windows.
	waitFor(t, 20*time.Second, "a's demand multiplier above 1", func() bool {
		_, m := a.demandQuote(item)
		return m != "1"
	})
	_, before := b.demandQuote(item)
	b.signal(syscall.SIGTERM)
	if code := b.wait(exitTimeout); code != 0 {
		t.Fatalf("b exited with %d", code)
	}
	b = startServer(t, args)
	served := time.Now()
	var la, ma, lb, mb string
	for {
		la, ma = a.demandQuote(item)
		lb, mb = b.demandQuote(item)
		if la == lb && ma == mb {
			break
		}
		if time.Since(served) > exchangeInterval+pollSlack {
			t.Fatalf("restarted replica quotes list %s (demand %s), its peer %s (%s), %s after serving", lb, mb, la, ma, time.Since(served))
		}
	}
	t.Logf("agreed %s after serving: list %s, demand %s (b before restart: %s)", time.Since(served).Round(time.Millisecond), la, ma, before)
	if mb == "1" {
		t.Errorf("both replicas at demand 1: the surge is lost")
	}
	// For a window and more (a period switch included) they keep
	// agreeing: any difference (one replica switched to the new period's
	// multiplier before the other) lasts less than an exchange interval.
	var since time.Time // when the current difference began
	seen := map[string]bool{}
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); {
		la, ma = a.demandQuote(item)
		lb, mb = b.demandQuote(item)
		seen[ma] = true
		switch {
		case la == lb && ma == mb:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) > exchangeInterval+pollSlack:
			t.Fatalf("replicas differ for %s: list %s (demand %s) and %s (%s)", time.Since(since), la, ma, lb, mb)
		}
	}
	t.Logf("demand multipliers seen over the window: %v", seen)
}
