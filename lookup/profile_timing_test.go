package lookup

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProfileBatcher measures what the latency profile costs per
// Call on an event loop: Lookup (draw the delays, answer from memory,
// keep), Flush (one lock, the timer heap) and the completion of the due
// Calls by the next Flush. The delays are zero so that every Call is due
// at once and the benchmark does not sleep; 64 Calls per loop iteration.
func BenchmarkProfileBatcher(b *testing.B) {
	p, err := ParseProfile("none:catalog=0-0s,market=0-0s")
	if err != nil {
		b.Fatal(err)
	}
	p.ErrRate = 1e-9 // not IsNone: the profile is applied
	cat, mk, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	bt := p.Wrap(&Memory{Catalog: cat, Markets: mk}).NewBatcher()
	const batch = 64
	calls := make([]Call, batch)
	var done atomic.Int64 // the timer goroutine may complete some
	for i := range calls {
		calls[i] = Call{ProductID: []byte("P-123"), Location: []byte("NY"), Done: func(*Call) { done.Add(1) }}
	}
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		for i := range calls {
			calls[i].Deadline = deadline
			bt.Lookup(&calls[i])
		}
		bt.Flush() // due at once: completed here, on this goroutine
	}
	b.StopTimer()
	// Stragglers (if the timer goroutine took some) complete shortly.
	for end := time.Now().Add(5 * time.Second); done.Load() < int64(b.N*batch) && time.Now().Before(end); {
		bt.Flush()
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/call")
}
