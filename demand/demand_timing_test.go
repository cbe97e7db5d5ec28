package demand

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// BenchmarkRequestRules is what the request path does with rules: load
// the ruleset (rules/testdata/example.yaml), count the request on the
// loop's shard, look its demand up in the snapshot (which holds 10,000
// keys) and price.
func BenchmarkRequestRules(b *testing.B) {
	rs, err := rules.ReadFile(filepath.Join("..", "rules", "testdata", "example.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	h := rules.NewHolder(rs, rules.HolderConfig{})
	m := NewMerger(MergerConfig{Rules: h.Load})
	s := m.NewShard()
	// rules' worked example: P-123 in NY, a member, Saturday 18:00 UTC.
	in := rules.Input{
		Product: []byte("P-123"), Location: []byte("NY"), Member: true,
		Base: money.New(5299, 2), Market: money.New(110, 2),
		Now: time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC),
	}
	m.Merge(context.Background(), in.Now)
	for i := 0; i < 10000; i++ {
		s.Record([]byte(string(rune('A'+i%26))+string(rune('a'+i/26%26))+string(rune('0'+i/676))), []byte("NY"), in.Now)
	}
	s.Record(in.Product, in.Location, in.Now)
	s.Flush(in.Now.Add(10e9))
	m.Merge(context.Background(), in.Now.Add(10e9))
	if m.Snapshot().Lookup(in.Product, in.Location).Requests != 1 || s.Observe(in.Product, in.Location, in.Now).Requests != 1 {
		b.Fatal("the snapshot does not hold the benchmark's key")
	}
	var res rules.Result
	b.ReportAllocs()
	for b.Loop() {
		rs := h.Load()
		in.Demand = rules.DemandSeen(s.Observe(in.Product, in.Location, in.Now))
		if err := rules.Price(rs, &in, &res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	rs := demandRules(b, "")
	m := NewMerger(MergerConfig{Rules: func() *rules.Ruleset { return rs }})
	s := m.NewShard()
	m.Merge(context.Background(), sec(0))
	p, l := []byte("P-123"), []byte("NY")
	at := sec(0.5)
	b.ReportAllocs()
	for b.Loop() {
		s.Record(p, l, at)
	}
}
