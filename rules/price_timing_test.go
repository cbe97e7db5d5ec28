package rules

import (
	"context"
	"testing"
)

// BenchmarkPriceNoRules is Price without a ruleset: the seed formula.
func BenchmarkPriceNoRules(b *testing.B) {
	in := workedExample(b)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		if err := Price(nil, &in, &res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPriceRules is Price under testdata/example.yaml: demand,
// three schedules (the second matches), both guards, an ending.
func BenchmarkPriceRules(b *testing.B) {
	rs := example(b)
	in := workedExample(b)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		if err := Price(rs, &in, &res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestNoRules is what the request path adds without rules:
// load the (nil) ruleset and price.
func BenchmarkRequestNoRules(b *testing.B) {
	h := NewHolder(nil, HolderConfig{})
	in := workedExample(b)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		if err := Price(h.Load(), &in, &res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestRules is what the request path does with rules: load
// the ruleset, count the request on the loop's shard, look its demand
// up in the snapshot (which holds 10,000 keys) and price.
func BenchmarkRequestRules(b *testing.B) {
	h := NewHolder(example(b), HolderConfig{})
	m := NewMerger(MergerConfig{Rules: h.Load})
	s := m.NewShard()
	in := workedExample(b)
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
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		rs := h.Load()
		in.Demand = s.Observe(in.Product, in.Location, in.Now)
		if err := Price(rs, &in, &res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendExplanation is the extra cost of "explain": true.
func BenchmarkAppendExplanation(b *testing.B) {
	rs := example(b)
	in := workedExample(b)
	var res Result
	if err := Price(rs, &in, &res); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = res.Explanation.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRecord(b *testing.B) {
	rs := demandRules(b, "")
	m := NewMerger(MergerConfig{Rules: func() *Ruleset { return rs }})
	s := m.NewShard()
	m.Merge(context.Background(), sec(0))
	p, l := []byte("P-123"), []byte("NY")
	at := sec(0.5)
	b.ReportAllocs()
	for b.Loop() {
		s.Record(p, l, at)
	}
}

func BenchmarkParseExample(b *testing.B) {
	data := exampleBytes(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("example.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
