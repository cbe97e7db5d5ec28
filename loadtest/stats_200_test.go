package loadtest

import (
	"testing"
	"time"
)

// TestLatency200 checks that the histogram of accepted responses holds the
// 200s only while the overall one holds every complete response: fast 503s
// must not hide the latency of the accepted requests.
func TestLatency200(t *testing.T) {
	st := newStats(time.Now().Add(-time.Second), 0)
	for i := range 90 {
		st.recordLatency(i, time.Millisecond, false) // fast rejections
	}
	for i := range 10 {
		st.recordLatency(i, 100*time.Millisecond, true)
	}
	if got := st.merged().TotalCount(); got != 100 {
		t.Fatalf("overall histogram holds %d responses, want 100", got)
	}
	h := st.merged200()
	if got := h.TotalCount(); got != 10 {
		t.Fatalf("200 histogram holds %d responses, want 10", got)
	}
	if l := latencyOf(h); l.P50 < 99 || l.P50 > 101 {
		t.Fatalf("200 P50 %.2f ms, want about 100", l.P50)
	}
}
