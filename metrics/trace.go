package metrics

import "github.com/prometheus/client_golang/prometheus"

// TraceStats is what tracing and the access log report at each scrape:
// counters are totals since start.
type TraceStats struct {
	SpansSampled  uint64 // spans handed to the exporter
	SpansDropped  uint64 // spans dropped because the export queue was full
	SpansExported uint64 // spans the collector accepted
	SpansFailed   uint64 // spans in export requests that failed
	AccessLines   uint64 // access log lines written
	AccessDropped uint64 // access log lines dropped because every buffer was in use
	AccessErrors  uint64 // failed access log writes
}

// Trace is the tracing and access log collectors, read at scrape time.
// It is safe for concurrent use.
type Trace struct {
	*statsCollector[TraceStats]
}

// NewTrace registers the tracing collectors on reg; stats is called once
// per scrape.
func NewTrace(reg prometheus.Registerer, stats func() TraceStats) *Trace {
	type S = TraceStats
	t := &Trace{statsCollector: &statsCollector[S]{stats: stats, rows: []statRow[S]{
		counter("pricing_trace_spans_sampled_total", "Spans recorded for sampled requests and handed to the exporter.",
			func(st *S) float64 { return float64(st.SpansSampled) }),
		counter("pricing_trace_spans_dropped_total", "Spans dropped because the export queue was full (a slow or absent collector).",
			func(st *S) float64 { return float64(st.SpansDropped) }),
		counter("pricing_trace_spans_exported_total", "Spans the collector accepted.",
			func(st *S) float64 { return float64(st.SpansExported) }),
		counter("pricing_trace_spans_failed_total", "Spans in export requests that failed (collector down, timed out or refused).",
			func(st *S) float64 { return float64(st.SpansFailed) }),
		counter("pricing_access_log_lines_total", "Access log lines written.",
			func(st *S) float64 { return float64(st.AccessLines) }),
		counter("pricing_access_log_dropped_total", "Access log lines dropped because every buffer was in use (a slow destination).",
			func(st *S) float64 { return float64(st.AccessDropped) }),
		counter("pricing_access_log_errors_total", "Access log writes that failed.",
			func(st *S) float64 { return float64(st.AccessErrors) }),
	}}}
	reg.MustRegister(t)
	return t
}
