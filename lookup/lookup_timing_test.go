package lookup

import (
	"testing"
)

func BenchmarkMemoryCatalog(b *testing.B) {
	cat, err := DefaultCatalog()
	if err != nil {
		b.Fatal(err)
	}
	id := []byte("P-123")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := cat.BasePriceNow(id); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkMemoryMarkets(b *testing.B) {
	mk, err := DefaultMarkets()
	if err != nil {
		b.Fatal(err)
	}
	loc := []byte("NY")
	b.ReportAllocs()
	for b.Loop() {
		if m := mk.MultiplierNow(loc); m.IsZero() {
			b.Fatal("zero multiplier")
		}
	}
}

func BenchmarkLoadDefaultCatalog(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DefaultCatalog(); err != nil {
			b.Fatal(err)
		}
	}
}
