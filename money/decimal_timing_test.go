package money

import "testing"

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("49.99"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPriceFormula(b *testing.B) {
	base, mult, keep := New(4999, 2), New(95, 2), New(95, 2)
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		p, err := base.Mul(mult)
		if err == nil {
			p, err = p.Mul(keep)
		}
		if err != nil {
			b.Fatal(err)
		}
		buf = p.Round(2).Append(buf[:0])
	}
}
