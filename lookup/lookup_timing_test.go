package lookup

import (
	"context"
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
	ctx := context.Background()
	loc := []byte("NY")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mk.Multiplier(ctx, loc); err != nil {
			b.Fatal(err)
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
