package pricing_test

import (
	"fmt"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// One request through the in-memory path, as an event loop runs it.
func Example() {
	cat, mk, err := lookup.Default()
	if err != nil {
		panic(err)
	}
	engine := pricing.NewEngine(&lookup.Memory{Catalog: cat, Markets: mk}, pricing.Config{})

	loop := engine.NewLoop() // one per event loop
	var x pricing.Exchange   // reused
	for _, body := range []string{
		`{"product_id":"P-0","user_location":"MIA","is_prime_member":true}`,
		`{"product_id":"P-X","user_location":"NY"}`,
		`{"product_id":"","user_location":"NY"}`,
		`{"product_id":"P-1",`,
	} {
		if !loop.Serve(&x, []byte(body), time.Now()) {
			// A slow source keeps the request: x.Done(&x) is called
			// later, then loop.Complete(&x) makes the reply on the
			// loop. The memory source always answers at once.
			continue
		}
		fmt.Println(x.Status, string(x.Body))
	}
	// Output:
	// 200 {"product_id":"P-0","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}
	// 404 {"detail":"unknown product_id \"P-X\""}
	// 422 {"detail":[{"type":"string_too_short","loc":["body","product_id"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]}
	// 400 {"detail":"invalid JSON: unexpected end of input, expected a string key at offset 20"}
}
