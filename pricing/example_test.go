package pricing_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// One request through the in-memory path, as an event loop runs it.
func Example() {
	cat, err := lookup.DefaultCatalog()
	if err != nil {
		panic(err)
	}
	mk, err := lookup.DefaultMarkets()
	if err != nil {
		panic(err)
	}
	engine := pricing.NewEngine(cat, mk, pricing.Config{})

	var (
		dec pricing.Decoder // one per event loop
		req pricing.Request // reused
		q   pricing.Quote   // reused
		out []byte          // reused
	)
	for _, body := range []string{
		`{"product_id":"P-0","user_location":"MIA","is_prime_member":true}`,
		`{"product_id":"P-X","user_location":"NY"}`,
		`{"product_id":"","user_location":"NY"}`,
		`{"product_id":"P-1",`,
	} {
		out = out[:0]
		err := dec.Decode([]byte(body), &req)
		if err == nil {
			if engine.Inline() {
				err = engine.PriceInline(&req, &q)
			} else {
				err = engine.Price(context.Background(), &req, &q)
			}
		}
		var perr *pricing.Error
		if errors.As(err, &perr) {
			out = perr.AppendJSON(out)
			fmt.Println(perr.Status, string(out))
			continue
		}
		fmt.Println(200, string(pricing.AppendQuote(out, &q)))
	}
	// Output:
	// 200 {"product_id":"P-0","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}
	// 404 {"detail":"unknown product_id \"P-X\""}
	// 422 {"detail":[{"type":"string_too_short","loc":["body","product_id"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]}
	// 400 {"detail":"invalid JSON: unexpected end of input, expected a string key at offset 20"}
}
