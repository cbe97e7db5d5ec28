package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// demandRequests reads the demand requests of an explanation.
var demandRequests = regexp.MustCompile(`\{"factor":"demand","value":[0-9.]+,"requests":([0-9]+)`)

// TestE2EBatchDemandAsync: with an asynchronous source (the seed
// latency profile) a batch's items wait on the event loop's lookups, and
// each product x location a batch prices is counted in the demand rules
// once, like a single request, however many of its items ask for it; an
// item refused (unknown product, a bad field) is not, as a single request
// answered 404 or 422 is not. The admin port prices with the merged
// demand without counting, so its explanation shows the count.
func TestE2EBatchDemandAsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demand.yaml")
	writeRules(t, path, `version: "batch-demand.1"
demand:
  window: 60s
  tiers:
    - {above: 1000, multiplier: 1.5}
`)
	p := startServer(t, append([]string{"--lookup-latency", "seed", "--rules", path}, loopbackArgs...))
	const item = `{"product_id":"P-7","user_location":"LA"}`
	// 2 single requests and one refused one.
	for _, body := range []string{item, item, `{"product_id":"P-NOPE","user_location":"LA"}`} {
		p.price(p.api, body)
	}
	// 3 batches of 5 identical good items, one of another location, an
	// unknown product and a bad item each.
	const other = `{"product_id":"P-7","user_location":"NY"}`
	batch := `{"items":[` + strings.Repeat(item+",", 5) + other + `,{"product_id":"P-NOPE","user_location":"LA"},{"user_location":"LA"}]}`
	for range 3 {
		code, _, got := p.do("POST", "http://"+p.api+"/api/v1/prices", "application/json", batch)
		if code != 200 || strings.Count(got, `"final_price"`) != 6 || strings.Count(got, `"error"`) != 2 {
			t.Fatalf("batch: %d %s", code, got)
		}
	}
	for _, c := range []struct {
		body string
		want int
		what string
	}{
		{item, 2 + 3, "2 single, once per batch"},
		{other, 3, "once per batch"},
	} {
		var last string
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, last = p.price(p.admin, strings.TrimSuffix(c.body, "}")+`,"explain":true}`)
			m := demandRequests.FindStringSubmatch(last)
			n := -1
			if m != nil {
				n, _ = strconv.Atoi(m[1])
			}
			if n > c.want {
				t.Fatalf("%s: demand counts %d requests, want %d (%s): %s", c.body, n, c.want, c.what, last)
			}
			if n == c.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: demand does not count %d requests within 20s (%s): %s", c.body, c.want, c.what, last)
			}
			time.Sleep(50 * time.Millisecond) // poll interval of the merged demand
		}
		t.Logf("admin explanation: %s", last)
	}
}
