package demand_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// Example shows the wiring a server does: a rules.Holder for the
// ruleset, a Merger with one Shard per event loop, and per request
// Observe and rules.Price.
func Example() {
	rs, err := rules.ReadFile(filepath.Join("..", "rules", "testdata", "example.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // file:line: path: reason; exit 2 at start
		return
	}
	holder := rules.NewHolder(rs, rules.HolderConfig{
		OnRefused: func(err error) { fmt.Println("refused:", err) },
	})
	merger := demand.NewMerger(demand.MergerConfig{Rules: holder.Load})
	shard := merger.NewShard() // one per event loop

	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	merger.Merge(context.Background(), now) // Run(ctx) does this every 250 ms

	// Per request, on the event loop:
	product, location := []byte("P-123"), []byte("NY")
	cur := holder.Load()
	in := rules.Input{
		Product: product, Location: location, Member: true,
		Base: money.New(5299, 2), Market: money.New(110, 2), Now: now,
		Demand: rules.DemandSeen(shard.Observe(product, location, now)), // count, and read the demand so far
	}
	var res rules.Result
	if err := rules.Price(cur, &in, &res); err != nil {
		fmt.Println(err) // 500: cannot compute price
		return
	}
	fmt.Println("list", res.List, "final", res.Final, "version", res.Version)
	fmt.Println(string(res.Explanation.AppendJSON(nil)))
	// Output:
	// list 51.99 final 49.39 version 2026-11-28.1
	// [{"factor":"base","value":52.99},{"factor":"market","value":1.1},{"factor":"demand","value":1,"requests":0,"target":1},{"factor":"schedule","name":"weekend-sale","value":0.9},{"factor":"floor","value":0.8,"bound":42.392,"hit":false},{"factor":"ceiling","value":2,"bound":105.98,"hit":false},{"factor":"ending","value":0.99,"applied":true},{"factor":"discount","value":0.05,"member":true}]
}
