package history

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// BenchmarkMemory records 1M products (P-0 .. P-999999) x 1 location x
// N days (N from HISTORY_BENCH_DAYS, default 7) through a loop's shard and
// the merger, and reports the heap the book holds: bytes per product x
// location x day, and per product x location.
//
//	HISTORY_BENCH_DAYS=7 go test -run '^$' -bench BenchmarkMemory -benchtime 1x ./history/
func BenchmarkMemory(b *testing.B) {
	days := 7
	if v := os.Getenv("HISTORY_BENCH_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > Retention {
			b.Fatalf("HISTORY_BENCH_DAYS=%q: want 1..%d", v, Retention)
		}
		days = n
	}
	const products = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := NewMerger(MergerConfig{})
		s := m.NewShard()
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		ctx := context.Background()
		loc := []byte("NY")
		pid := make([]byte, 0, 16)
		for d := days - 1; d >= 0; d-- {
			at := now.AddDate(0, 0, -d)
			for i := 0; i < products; i++ {
				pid = strconv.AppendInt(append(pid[:0], "P-"...), int64(i), 10)
				s.Record(pid, loc, at, money.New(int64(4999+i%1000+d), 2), true)
				if i%512 == 511 {
					s.Flush()
					m.Merge(ctx, now)
				}
			}
			s.Flush()
			m.Merge(ctx, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := m.Stats()
		if st.Keys != products || st.DroppedRecords != 0 {
			b.Fatalf("book holds %d keys, %d records dropped", st.Keys, st.DroppedRecords)
		}
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap/float64(products*days), "bytes/entry")
		b.ReportMetric(heap/float64(products), "bytes/key")
		b.ReportMetric(heap/(1<<20), "MiB")
		runtime.KeepAlive(m)
	}
}
