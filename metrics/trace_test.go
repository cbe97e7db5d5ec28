package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTraceCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := TraceStats{SpansSampled: 10, SpansDropped: 3, SpansExported: 6, SpansFailed: 1, AccessLines: 9, AccessDropped: 2, AccessErrors: 1}
	NewTrace(reg, func() TraceStats { return st })
	want := `
# HELP pricing_trace_spans_dropped_total Spans dropped because the export queue was full (a slow or absent collector).
# TYPE pricing_trace_spans_dropped_total counter
pricing_trace_spans_dropped_total 3
# HELP pricing_access_log_dropped_total Access log lines dropped because every buffer was in use (a slow destination).
# TYPE pricing_access_log_dropped_total counter
pricing_access_log_dropped_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"pricing_trace_spans_dropped_total", "pricing_access_log_dropped_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 7 {
		t.Fatalf("%d series, %v", n, err)
	}
	lint, err := testutil.GatherAndLint(reg)
	if err != nil || len(lint) != 0 {
		t.Fatalf("lint: %v %v", lint, err)
	}
}
