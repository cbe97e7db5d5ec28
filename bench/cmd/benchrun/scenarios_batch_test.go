package main

import (
	"strings"
	"testing"
)

// TestBatchTable: items/s of the batch scenario are divided by the single
// req/s of the same round; the median of those ratios is reported, and a
// round the single scenario failed is left out.
func TestBatchTable(t *testing.T) {
	r := &Report{scenarios: allScenarios, servers: allServers, Cells: []Cell{
		{Scenario: scMem100, Server: "pricing-engine", Round: 1, RPS: 100, CPUPerReqUS: 10},
		{Scenario: scBatch20, Server: "pricing-engine", Round: 1, RPS: 20, ItemsPerSec: 400, CPUPerReqUS: 50},
		{Scenario: scMem100, Server: "pricing-engine", Round: 2, RPS: 50, CPUPerReqUS: 10},
		{Scenario: scBatch20, Server: "pricing-engine", Round: 2, RPS: 10, ItemsPerSec: 200, CPUPerReqUS: 50},
		{Scenario: scMem100, Server: "pricing-engine", Round: 3, RPS: 200, CPUPerReqUS: 10},
		{Scenario: scBatch20, Server: "pricing-engine", Round: 3, RPS: 15, ItemsPerSec: 300, CPUPerReqUS: 40},
		{Scenario: scMem100, Server: "pricing-engine", Round: 4, Err: "refused"},
		{Scenario: scBatch20, Server: "pricing-engine", Round: 4, RPS: 99, ItemsPerSec: 1980, CPUPerReqUS: 50},
	}}
	r.finish(0)
	if got := r.batchRatios(scBatch20); len(got) != 3 || got[0] != 4 || got[1] != 4 || got[2] != 1.5 {
		t.Fatalf("batchRatios = %v, want [4 4 1.5]", got)
	}
	md := r.markdown()
	// Medians: batch 17.5 batches/s (10, 15, 20, 99), so 350 items/s;
	// single 100 req/s; ratio median(4, 4, 1.5) = 4; CPU 50/20 = 2.5 us/item.
	want := "| batch20 | 20 | 18 | 350 | 100 | 4.00x | 2.50 | 10.00 | 4.00, 4.00, 1.50 |"
	if !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q:\n%s", want, md)
	}
}

func TestCheckBatchReply(t *testing.T) {
	good := `{"items":[{"product_id":"P-100","final_price":1},{"product_id":"P-101","final_price":2}]}`
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"good", 200, good, ""},
		{"status", 422, `{"detail":[]}`, "answered 422"},
		{"an error item", 200, `{"items":[{"product_id":"P-100","final_price":1},{"error":{"status":404,"detail":"x"}}]}`, "item 1"},
		{"out of order", 200, `{"items":[{"product_id":"P-101","final_price":2},{"product_id":"P-100","final_price":1}]}`, "item 0"},
		{"short", 200, `{"items":[{"product_id":"P-100","final_price":1}]}`, "answered with 1"},
		{"not json", 200, `<html>`, "cannot parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkBatchReply(tc.status, []byte(tc.body), 2)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("checkBatchReply = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if b := batchBody(3); b != `{"items":[{"product_id":"P-100","user_location":"NY","is_prime_member":true},{"product_id":"P-101","user_location":"LA","is_prime_member":false},{"product_id":"P-102","user_location":"MIA","is_prime_member":true}]}` {
		t.Errorf("batchBody(3) = %s", b)
	}
}
