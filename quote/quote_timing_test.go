package quote

import (
	"testing"
	"time"
)

// BenchmarkSign is the cost a quoted request adds: one quote object with
// its token, appended into a reused buffer.
func BenchmarkSign(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    Claims
	}{
		{"seed", Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Member: true, Final: dec("45.12")}},
		{"rules", Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Member: true, Final: dec("45.12"), List: dec("47.49"), Version: "2026-12-07.1"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := keyring(b, 15*time.Minute, Key{"k1", secretA})
			s := r.NewSigner()
			buf := s.AppendQuote(nil, &tc.c, t0)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = s.AppendQuote(buf[:0], &tc.c, t0)
			}
		})
	}
}

// BenchmarkVerify is POST /api/v1/quotes/verify's work without HTTP: one
// genuine token checked and decoded (run with -cpu 1 for verifies per
// second on one core: 1e9 / ns/op).
func BenchmarkVerify(b *testing.B) {
	r := keyring(b, 15*time.Minute, Key{"k1", secretA}, Key{"k0", secretB})
	c := Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Member: true, Final: dec("45.12"), List: dec("47.49"), Version: "2026-12-07.1"}
	tok := token(&testing.T{}, r.NewSigner().AppendQuote(nil, &c, t0))
	v := r.NewVerifier()
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
