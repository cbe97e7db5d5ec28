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

// BenchmarkAnswer compares a Call answered by the read-only tables and by
// the writable MemoryStore (the binary's memory source), with and without
// changed entries in its overlay.
func BenchmarkAnswer(b *testing.B) {
	cat, mk, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	changed := NewMemoryStore(cat, mk, MemoryStoreOptions{})
	for _, id := range []string{"P-1", "P-2", "P-3"} {
		if _, err := changed.Write(context.Background(), &Write{Ref: Ref{Kind: KindProduct, ID: id}, Op: OpPut, Value: "1"}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name   string
		answer func(*Call)
	}{
		{"Memory", (&Memory{Catalog: cat, Markets: mk}).Answer},
		{"MemoryStore", NewMemoryStore(cat, mk, MemoryStoreOptions{}).Answer},
		{"MemoryStore-changed", changed.Answer},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &Call{ProductID: []byte("P-123"), Location: []byte("NY")}
			b.ReportAllocs()
			for b.Loop() {
				bc.answer(c)
				if c.Err != nil {
					b.Fatal(c.Err)
				}
			}
		})
	}
}
