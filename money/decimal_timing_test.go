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

// BenchmarkAppend formats the numbers of one quote: every reply writes
// four or five of them.
func BenchmarkAppend(b *testing.B) {
	ds := []Decimal{New(5537, 2), New(4999, 2), New(1100, 3), New(5, 2)}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, d := range ds {
			buf = d.Append(buf)
		}
	}
}
