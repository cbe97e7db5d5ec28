package pricing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/rules"
)

const testRules = `version: "t1"
member_discount: 0.10
demand:
  window: 60s
  tiers:
    - {above: 100, multiplier: 1.05}
schedules:
  - {name: sale, products: ["P-1*"], multiplier: 0.5}
guards: {floor: 0.80, ceiling: 2.00}
ending: "0.99"
`

func parseRules(t testing.TB, src string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// priceBody prices r through Begin on a memory source and returns the body.
func priceBody(t *testing.T, e *Engine, x *Exchange, r *Request) string {
	t.Helper()
	x.Req = *r
	if !e.begin(x, e.src.NewBatcher(), time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)) {
		t.Fatal("memory source did not answer at once")
	}
	return string(x.Body)
}

// TestRulesOffSameBytes: a Rules func that returns nil (no --rules) and no
// Rules func at all give the same bytes as the seed formula always did.
func TestRulesOffSameBytes(t *testing.T) {
	src := memorySource(t)
	plain := NewEngine(src, Config{})
	off := NewEngine(src, Config{Rules: func() *rules.Ruleset { return nil }})
	want := map[string]string{
		"P-3/NY/true":  `{"product_id":"P-3","final_price":55.37,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live"}`,
		"P-0/SF/false": `{"product_id":"P-0","final_price":57.49,"base_price":49.99,"market_multiplier":1.15,"discount_rate":0,"source":"live"}`,
	}
	for k, w := range want {
		p := strings.Split(k, "/")
		r := request(p[0], p[1], p[2] == "true")
		r.Explain = true // ignored without rules
		var x, y Exchange
		if got := priceBody(t, plain, &x, r); got != w {
			t.Errorf("%s without Rules = %s, want %s", k, got, w)
		}
		if got := priceBody(t, off, &y, r); got != w {
			t.Errorf("%s with a nil ruleset = %s, want %s", k, got, w)
		}
	}
}

func TestRulesQuote(t *testing.T) {
	rs := parseRules(t, testRules)
	e := NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }})
	tests := []struct {
		name string
		r    *Request
		want string
	}{
		// 52.99 x 1.10 = 58.289 -> ending 57.99; x 0.90 = 52.191 -> 52.19.
		{"member", request("P-3", "NY", true),
			`{"product_id":"P-3","final_price":52.19,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.1,"source":"live","list_price":57.99,"ruleset_version":"t1"}`},
		// 50.99 x 1.15 x 0.5 (sale) = 29.31925 -> floor 0.80 x 50.99 = 40.792 -> ending 40.99 (the smallest x.99 at or above the floor).
		{"floor", request("P-1", "SF", false),
			`{"product_id":"P-1","final_price":40.99,"base_price":50.99,"market_multiplier":1.15,"discount_rate":0,"source":"live","list_price":40.99,"ruleset_version":"t1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x Exchange
			if got := priceBody(t, e, &x, tt.r); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRulesExplain(t *testing.T) {
	rs := parseRules(t, testRules)
	e := NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }})
	r := request("P-1", "SF", true)
	r.Explain = true
	var x Exchange
	body := priceBody(t, e, &x, r)
	var got struct {
		Final       json.Number `json:"final_price"`
		List        json.Number `json:"list_price"`
		Version     string      `json:"ruleset_version"`
		Explanation []struct {
			Factor string      `json:"factor"`
			Name   string      `json:"name"`
			Value  json.Number `json:"value"`
			Hit    *bool       `json:"hit"`
		} `json:"explanation"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, body)
	}
	var names []string
	for _, f := range got.Explanation {
		names = append(names, f.Factor)
	}
	want := "base market demand schedule floor ceiling ending discount"
	if strings.Join(names, " ") != want {
		t.Errorf("factors = %v, want %s (%s)", names, want, body)
	}
	if got.Explanation[3].Name != "sale" || got.Explanation[4].Hit == nil || !*got.Explanation[4].Hit {
		t.Errorf("schedule or floor not explained: %s", body)
	}
	// 40.99 x 0.90 = 36.891 -> 36.89.
	if got.Final != "36.89" || got.List != "40.99" || got.Version != "t1" {
		t.Errorf("final %s list %s version %s: %s", got.Final, got.List, got.Version, body)
	}
	// The next request without explain on the same Exchange has none.
	r.Explain = false
	if body := priceBody(t, e, &x, r); strings.Contains(body, "explanation") {
		t.Errorf("explanation without explain: %s", body)
	}
}

// TestRulesDemandShard: requests counted by a loop's shard raise the
// demand multiplier once merged.
func TestRulesDemandShard(t *testing.T) {
	rs := parseRules(t, testRules)
	m := demand.NewMerger(demand.MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	e := NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }, Demand: m})
	t0 := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	m.Merge(context.Background(), t0)
	var x Exchange
	x.shard = e.newShard()
	b := e.src.NewBatcher()
	x.Req = *request("P-3", "NY", false)
	for i := 0; i < 150; i++ {
		e.begin(&x, b, t0)
	}
	t1 := t0.Add(6 * time.Second) // the next bucket: the first one is counted
	x.shard.Flush(t1)
	m.Merge(context.Background(), t1)
	x.Req.Explain = true
	e.begin(&x, b, t1)
	// 52.99 x 1.10 x 1.05 = 61.20345 -> 60.99.
	if !strings.Contains(string(x.Body), `"list_price":60.99`) || !strings.Contains(string(x.Body), `"requests":150`) {
		t.Errorf("demand not applied: %s", x.Body)
	}
	// Without a shard (Engine.Wait: the admin port) the request is priced
	// with the same demand and not counted.
	var y Exchange
	y.Req = x.Req
	e.Wait(&y)
	if !strings.Contains(string(y.Body), `"list_price":60.99`) || !strings.Contains(string(y.Body), `"requests":150`) {
		t.Errorf("Wait without a shard: %s", y.Body)
	}
}

// TestRulesBatchDemandOncePerBatch: a batch counts each product x
// location it prices once, however many of its items ask for it; items
// refused are not counted; duplicates are priced alike.
func TestRulesBatchDemandOncePerBatch(t *testing.T) {
	rs := parseRules(t, testRules)
	m := demand.NewMerger(demand.MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	e := NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }, Demand: m})
	t0 := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	m.Merge(context.Background(), t0)
	l := e.NewLoop()
	item := func(p, loc string) string { return `{"product_id":"` + p + `","user_location":"` + loc + `"}` }
	tests := []struct {
		name    string
		items   []string
		want    map[[2]string]int64 // product x location -> requests counted
		refused bool                // some items are refused (their errors allocate)
	}{
		{"100 identical items", slices.Repeat([]string{item("P-3", "NY")}, MaxBatchItems),
			map[[2]string]int64{{"P-3", "NY"}: 1}, false},
		{"duplicates among others", []string{item("P-3", "NY"), item("P-3", "LA"), item("P-3", "NY"), item("P-9", "NY"),
			item("P-NOPE", "NY"), item("P-NOPE", "NY"), `{"user_location":"NY"}`, item("P-3", "LA"), item("P-93", "NY")},
			map[[2]string]int64{{"P-3", "NY"}: 1, {"P-3", "LA"}: 1, {"P-9", "NY"}: 1, {"P-93", "NY"}: 1, {"P-NOPE", "NY"}: 0}, true},
		{"ids that share bytes", []string{item("P-1", "2NY"), item("P-12", "NY"), item("P-12", "NY"), item("P-1", "2NY")},
			map[[2]string]int64{{"P-1", "2NY"}: 1, {"P-12", "NY"}: 1}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := t0.Add(time.Duration(i) * time.Minute) // a window of its own
			m.Merge(context.Background(), at)
			body := []byte(`{"items":[` + strings.Join(tt.items, ",") + `]}`)
			x := new(Exchange)
			for range 2 { // two batches: each counts once
				if !l.ServeBatch(x, body, at) || x.Status != 200 {
					t.Fatalf("ServeBatch: %d %s", x.Status, x.Body)
				}
				// Duplicates are priced alike.
				var reply struct{ Items []json.RawMessage }
				if err := json.Unmarshal(x.Body, &reply); err != nil || len(reply.Items) != len(tt.items) {
					t.Fatalf("reply: %v %s", err, x.Body)
				}
				first := map[string]string{}
				for j, it := range tt.items {
					if f, ok := first[it]; ok && f != string(reply.Items[j]) {
						t.Errorf("item %d %s priced %s, an earlier duplicate %s", j, it, reply.Items[j], f)
					}
					first[it] = string(reply.Items[j])
				}
			}
			if allocs := testing.AllocsPerRun(50, func() { l.ServeBatch(x, body, at) }); allocs != 0 && !tt.refused {
				t.Errorf("ServeBatch with demand: %v allocations, want 0", allocs)
			}
			next := at.Add(6 * time.Second) // the next bucket: this one is counted
			l.Tick(next)
			m.Merge(context.Background(), next)
			const batches = 2 + 50 + 1 // and AllocsPerRun's warm-up run
			for k, want := range tt.want {
				if got := m.Snapshot().Lookup([]byte(k[0]), []byte(k[1])).Requests; got != batches*want {
					t.Errorf("%s x %s: %d requests counted over %d batches, want %d", k[0], k[1], got, batches, batches*want)
				}
			}
		})
	}
}

// TestRulesNoAllocs: pricing with rules, a demand shard and an
// explanation allocates nothing per request.
func TestRulesNoAllocs(t *testing.T) {
	rs := parseRules(t, testRules)
	m := demand.NewMerger(demand.MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	e := NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }, Demand: m})
	now := time.Now()
	m.Merge(context.Background(), now)
	var x Exchange
	x.shard = e.newShard()
	b := e.src.NewBatcher()
	var dec Decoder
	for _, s := range []string{
		`{"product_id":"P-3","user_location":"NY","is_prime_member":true}`,
		`{"product_id":"P-12","user_location":"SF","is_prime_member":false,"explain":true}`,
	} {
		body := []byte(s)
		e.serve(&x, &dec, b, body, now) // grow the buffers
		if allocs := testing.AllocsPerRun(200, func() { e.serve(&x, &dec, b, body, now) }); allocs != 0 {
			t.Errorf("%s: %v allocations per request, want 0", body, allocs)
		}
		if x.Status != 200 || !strings.Contains(string(x.Body), `"ruleset_version":"t1"`) {
			t.Errorf("%s: %d %s", body, x.Status, x.Body)
		}
	}
}

// BenchmarkServeRules compares pricing in memory without and with the
// example ruleset (rules/testdata/example.yaml) and a demand shard.
func BenchmarkServeRules(b *testing.B) {
	rs, err := rules.ReadFile("../rules/testdata/example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`)
	for _, bc := range []struct {
		name  string
		rules *rules.Ruleset
	}{{"none", nil}, {"example", rs}} {
		b.Run(bc.name, func(b *testing.B) {
			cur := bc.rules
			m := demand.NewMerger(demand.MergerConfig{Rules: func() *rules.Ruleset { return cur }})
			e := NewEngine(memorySource(b), Config{Rules: func() *rules.Ruleset { return cur }, Demand: m})
			now := time.Now()
			m.Merge(context.Background(), now)
			var x Exchange
			x.shard = e.newShard()
			bt := e.src.NewBatcher()
			var dec Decoder
			b.ReportAllocs()
			for b.Loop() {
				e.serve(&x, &dec, bt, body, now)
			}
			if x.Status != 200 {
				b.Fatalf("%d %s", x.Status, x.Body)
			}
		})
	}
}
