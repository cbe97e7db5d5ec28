package pricing

import (
	"context"
	"testing"
)

var benchBody = []byte(`{"product_id":"P-123","user_location":"NY","is_prime_member":true}`)

func BenchmarkDecode(b *testing.B) {
	var d Decoder
	var r Request
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(benchBody, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeLaxBool(b *testing.B) {
	body := []byte(`{"product_id":"P-123","user_location":"NY","is_prime_member":"Yes","extra":{"a":[1,2,3]}}`)
	var d Decoder
	var r Request
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendQuote(b *testing.B) {
	cat, mk := defaultLookups(b)
	e := NewEngine(cat, mk, Config{})
	var q Quote
	if err := e.PriceInline(request("P-123", "NY", true), &q); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendQuote(buf[:0], &q)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkPriceInline(b *testing.B) {
	cat, mk := defaultLookups(b)
	e := NewEngine(cat, mk, Config{})
	r := request("P-123", "NY", true)
	var q Quote
	b.ReportAllocs()
	for b.Loop() {
		if err := e.PriceInline(r, &q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePriceEncode is one whole in-memory request as the event
// loop runs it: decode, price inline, encode into a reused buffer.
func BenchmarkDecodePriceEncode(b *testing.B) {
	cat, mk := defaultLookups(b)
	e := NewEngine(cat, mk, Config{})
	var d Decoder
	var r Request
	var q Quote
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(benchBody, &r); err != nil {
			b.Fatal(err)
		}
		if err := e.PriceInline(&r, &q); err != nil {
			b.Fatal(err)
		}
		buf = AppendQuote(buf[:0], &q)
	}
}

// BenchmarkPriceGoroutine is the path for lookups that may block (one
// extra goroutine, a deadline), here over in-memory lookups to measure the
// engine's own overhead.
func BenchmarkPriceGoroutine(b *testing.B) {
	cat, mk := defaultLookups(b)
	e := NewEngine(cat, mk, Config{})
	r := request("P-123", "NY", true)
	var q Quote
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Price(ctx, r, &q); err != nil {
			b.Fatal(err)
		}
	}
}
