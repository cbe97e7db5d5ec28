package rules

import (
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

// BenchmarkSeed is the seed formula alone: what a quote without rules
// costs (the engine's and Price(nil)'s one implementation).
func BenchmarkSeed(b *testing.B) {
	in := workedExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, final, err := Seed(in.Base, in.Market, in.Member); err != nil || final.IsZero() {
			b.Fatal(final, err)
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
