package quote

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cpuPerOp reports the CPU time the benchmark's thread used per
// operation (cpu-ns/op) when the function it returns is called after the
// loop: on a shared machine wall time also counts the waits for a CPU.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU(b)
	return func() {
		b.ReportMetric(float64(threadCPU(b)-start)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}

// threadCPU is the CPU time (user and system) the calling OS thread has
// used, in nanoseconds.
func threadCPU(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatalf("cannot read the thread's CPU time: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

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
			done := cpuPerOp(b)
			for b.Loop() {
				buf = s.AppendQuote(buf[:0], &tc.c, t0)
			}
			done()
		})
	}
}

// BenchmarkVerify is POST /api/v1/quotes/verify's work without HTTP: one
// genuine token checked and decoded (run with -cpu 1 for verifies per
// second on one core: 1e9 / cpu-ns/op).
func BenchmarkVerify(b *testing.B) {
	r := keyring(b, 15*time.Minute, Key{"k1", secretA}, Key{"k0", secretB})
	c := Claims{ProductID: []byte("P-123"), Location: []byte("NY"), Member: true, Final: dec("45.12"), List: dec("47.49"), Version: "2026-12-07.1"}
	tok := token(&testing.T{}, r.NewSigner().AppendQuote(nil, &c, t0))
	v := r.NewVerifier()
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	done := cpuPerOp(b)
	for b.Loop() {
		if _, err := v.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
	done()
}
