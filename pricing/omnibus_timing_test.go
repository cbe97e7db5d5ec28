package pricing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// BenchmarkOmnibus is one whole in-memory request on an event loop's
// Loop (decode, look up, price with rules, record, encode) for items
// P-100..P-107 x NY:
//
//   - mode=none: rules without an announced schedule, no history (nothing
//     recorded: the path as it was before the price history);
//   - mode=recorded: the same rules, every price recorded on the loop's
//     history shard (the service as it runs without announced schedules);
//   - mode=announced: an announced reduction applies to the items, each reply
//     carries its prior price, found in a history of 30 recorded days.
func BenchmarkOmnibus(b *testing.B) {
	const plain = `version: "bench"
schedules:
  - {name: other, products: ["Q-*"], days: [mon], multiplier: 0.9, announce: true}
`
	const announced = `version: "bench"
schedules:
  - {name: sale, products: ["P-10*"], days: [mon], multiplier: 0.9, announce: true}
`
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) // a Monday
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"product_id":"P-10%d","user_location":"NY"}`, i))
	}
	for _, bc := range []struct {
		name, rules string
		history     bool
		prior       bool // the reply must carry prior_price
	}{
		{"mode=none", plain, false, false},
		{"mode=recorded", plain, true, false},
		{"mode=announced", announced, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rs := parseRules(b, bc.rules)
			cfg := Config{Rules: func() *rules.Ruleset { return rs }}
			if bc.history {
				h := history.NewMerger(history.MergerConfig{})
				for d := 1; d <= 30; d++ {
					for i := range bodies {
						rec := request(fmt.Sprintf("P-10%d", i), "NY", false)
						h.Record(rec.ProductID, rec.Location, now.AddDate(0, 0, -d), parseDecimal(b, fmt.Sprintf("%d.99", 50+d)), true)
					}
					h.Merge(context.Background(), now)
				}
				cfg.History = h
			}
			e := NewEngine(memorySource(b), cfg)
			l := e.NewLoop().(*Loop)
			x := e.NewExchange(nil).(*Exchange)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if !l.Serve(x, bodies[i&7], now) || x.Status != 200 {
					b.Fatalf("not priced: %s", x.Body)
				}
				i++
			}
			if bc.prior != !x.Quote.Prior.IsZero() {
				b.Fatalf("prior price %s in %s", x.Quote.Prior, x.Body)
			}
		})
	}
}

func parseDecimal(tb testing.TB, s string) money.Decimal {
	tb.Helper()
	d, err := money.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
