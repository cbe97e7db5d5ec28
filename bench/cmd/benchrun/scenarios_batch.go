package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/internal/benchproc"
)

// The batch scenario (batch20): pricing-engine alone, POST /api/v1/prices
// with a fixed batch of items (bench/wrk/batch.lua), reported as items per
// second against the single requests per second of mem-c100 on the same
// server in the same round (batchTable).

// batchPeer is the single-request scenario a batch scenario is compared
// with: in memory, keep-alive, the same 100 connections.
const batchPeer = scMem100

// path is the request target of the scenario's requests.
func (sc scenario) path() string {
	if sc.items > 0 {
		return "/api/v1/prices"
	}
	return "/api/v1/price"
}

// batchBody is the batch bench/wrk/batch.lua sends for n items: item i is
// P-(100+i) in NY, LA or MIA (i mod 3), a member when i is even. Keep the
// two in step.
func batchBody(n int) string {
	locs := []string{"NY", "LA", "MIA"}
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"product_id":"P-%d","user_location":"%s","is_prime_member":%t}`, 100+i, locs[i%3], i%2 == 0)
	}
	return `{"items":[` + strings.Join(items, ",") + `]}`
}

// checkBatch sends the scenario's batch once and checks that every item
// was priced, in order: wrk sees only the status, which is 200 even when
// items fail.
func (p *process) checkBatch(n int) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://"+p.addr+"/api/v1/prices", "application/json", strings.NewReader(batchBody(n)))
	if err != nil {
		return fmt.Errorf("cannot send the batch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("cannot read the batch reply: %w", err)
	}
	return checkBatchReply(resp.StatusCode, body, n)
}

// checkBatchReply checks a batch reply of n items as checkBatch says.
func checkBatchReply(status int, body []byte, n int) error {
	if status != http.StatusOK {
		return fmt.Errorf("batch answered %d: %s", status, benchproc.TrimLog(string(body)))
	}
	var rep struct {
		Items []struct {
			ProductID  string          `json:"product_id"`
			FinalPrice json.Number     `json:"final_price"`
			Error      json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("cannot parse the batch reply: %w", err)
	}
	if len(rep.Items) != n {
		return fmt.Errorf("batch of %d items answered with %d", n, len(rep.Items))
	}
	for i, it := range rep.Items {
		if it.Error != nil || it.ProductID != "P-"+strconv.Itoa(100+i) || it.FinalPrice == "" {
			return fmt.Errorf("batch item %d is not a price for P-%d: %s", i, 100+i, benchproc.TrimLog(string(body)))
		}
	}
	return nil
}

// batchRatios returns, for each round where both ran, the batch
// scenario's items/s on pricing-engine divided by batchPeer's req/s on it,
// in round order.
func (r *Report) batchRatios(scen string) []float64 {
	const ours = "pricing-engine"
	single := map[int]float64{}
	for _, c := range r.Cells {
		if c.Scenario == batchPeer && c.Server == ours && c.Err == "" && c.RPS > 0 {
			single[c.Round] = c.RPS
		}
	}
	var rounds []int
	items := map[int]float64{}
	for _, c := range r.Cells {
		if c.Scenario == scen && c.Server == ours && c.Err == "" && c.ItemsPerSec > 0 {
			if _, ok := single[c.Round]; ok {
				items[c.Round] = c.ItemsPerSec
				rounds = append(rounds, c.Round)
			}
		}
	}
	slices.Sort(rounds)
	out := make([]float64, 0, len(rounds))
	for _, rd := range rounds {
		out = append(out, items[rd]/single[rd])
	}
	return out
}

// batchTable writes the batch scenarios' table: items/s against single
// req/s on the same server, per round and as the median of the per-round
// ratios.
func (r *Report) batchTable(b *strings.Builder) {
	const ours = "pricing-engine"
	wrote := false
	for _, sc := range r.scenarios {
		if sc.items == 0 {
			continue
		}
		s, ok := r.get(sc.key, ours)
		if !ok {
			continue
		}
		if !wrote {
			b.WriteString("| batch scenario | items per request | batches/s | items/s | single req/s (" + batchPeer + ") | items/s ÷ single req/s | CPU µs/item | CPU µs/req (single) | ratio per round |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
			wrote = true
		}
		single, perReq := "–", "–"
		if p, ok := r.get(batchPeer, ours); ok {
			single = fmt.Sprintf("%.0f", p.RPS)
			if p.CPUPerReqUS > 0 {
				perReq = fmt.Sprintf("%.2f", p.CPUPerReqUS)
			}
		}
		perItem := "–"
		if s.CPUPerReqUS > 0 {
			perItem = fmt.Sprintf("%.2f", s.CPUPerReqUS/float64(sc.items))
		}
		ratios := r.batchRatios(sc.key)
		per := make([]string, len(ratios))
		for i, x := range ratios {
			per[i] = fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s |\n",
			sc.key, sc.items, s.RPS, s.RPS*float64(sc.items), single, ratio(median(ratios)), perItem, perReq, strings.Join(per, ", "))
	}
	if wrote {
		b.WriteString("\n")
	}
}
