package pricing

import (
	"testing"
	"time"
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
	e := NewEngine(memorySource(b), Config{})
	var x Exchange
	x.Req = *request("P-123", "NY", true)
	if !e.begin(&x, e.src.NewBatcher(), time.Now()) || x.Status != 200 {
		b.Fatal("not priced")
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendQuote(buf[:0], &x.Quote)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkBeginInstant is the lookups and the reply of one request on an
// instant source: look up, compute the quote, encode.
func BenchmarkBeginInstant(b *testing.B) {
	e := NewEngine(memorySource(b), Config{})
	bt := e.src.NewBatcher()
	var x Exchange
	x.Req = *request("P-123", "NY", true)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if !e.begin(&x, bt, now) || x.Status != 200 {
			b.Fatal("not priced")
		}
	}
}

// BenchmarkServeInstant is one whole in-memory request as the event loop
// runs it: decode, look up, price, encode into a reused buffer.
func BenchmarkServeInstant(b *testing.B) {
	e := NewEngine(memorySource(b), Config{})
	bt := e.src.NewBatcher()
	var d Decoder
	var x Exchange
	now := time.Now()
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if !e.serve(&x, &d, bt, benchBody, now) || x.Status != 200 {
			b.Fatal("not priced")
		}
	}
}

// BenchmarkWait is the blocking path (admin listener, reference servers)
// over in-memory lookups: the engine's own overhead.
func BenchmarkWait(b *testing.B) {
	e := NewEngine(memorySource(b), Config{})
	var x Exchange
	b.ReportAllocs()
	for b.Loop() {
		x.Req = *request("P-123", "NY", true)
		e.Wait(&x)
		if x.Status != 200 {
			b.Fatal("not priced")
		}
	}
}
