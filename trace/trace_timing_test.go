package trace

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// Header bytes as the server has them: views into its inbound buffer.
var (
	benchTraceparent = []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	benchNames       = [][]byte{[]byte("content-type"), []byte("traceparent")}
	benchJSON        = []byte("application/json")
)

// BenchmarkRequestIdentity is what every request pays with tracing off:
// read the header fields, take or make the trace id, append the request id.
func BenchmarkRequestIdentity(b *testing.B) {
	for _, bc := range []struct {
		name   string
		header bool
	}{{"no-traceparent", false}, {"traceparent", true}} {
		b.Run(bc.name, func(b *testing.B) {
			tr, _ := New(Config{})
			l := tr.NewLoop()
			var id [RequestIDLen]byte
			b.ReportAllocs()
			for b.Loop() {
				var in Incoming
				in.Field(benchNames[0], benchJSON)
				if bc.header {
					in.Field(benchNames[1], benchTraceparent)
				}
				c := l.Begin(&in, "req", 1)
				c.AppendRequestID(id[:0])
			}
		})
	}
}

// BenchmarkSampledSpan is the loop's cost of one sampled request with one
// store child span: record, attributes, hand-over. The exporter's encoding
// runs on its goroutine (not measured here: the queue drops to a closed
// tracer's pool).
func BenchmarkSampledSpan(b *testing.B) {
	tr, err := New(Config{Endpoint: "http://127.0.0.1:1", Ratio: 1, QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	// A stopped exporter refuses every span: what is measured is the
	// loop's side alone.
	if err := tr.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
	l := tr.NewLoop()
	b.ReportAllocs()
	for b.Loop() {
		var in Incoming
		c := l.Begin(&in, "POST /api/v1/price", 1)
		c.Span.SetString("product_id", []byte("P-123"))
		c.Span.SetString("location", []byte("NY"))
		c.Span.SetInt("http.response.status_code", 200)
		c.Span.AddEvent("rules", 2).SetBool("applied", true)
		s := l.Child(&c, "store round trip", KindClient, 2)
		l.Finish(s, 3)
		l.Finish(c.Span, 4)
	}
}

func BenchmarkAccessLogLine(b *testing.B) {
	a, err := OpenAccessLog(AccessLogConfig{Dest: filepath.Join(b.TempDir(), "a.log"), Sample: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	l := a.NewLoop()
	e := Entry{Time: time.Now(), ID: TraceID{1}, Method: []byte("POST"), Path: []byte("/api/v1/price"), Status: 200,
		Duration: time.Millisecond, Bytes: 100, Source: "live", Remote: netip.MustParseAddrPort("10.0.0.1:1234")}
	b.ReportAllocs()
	for b.Loop() {
		l.Log(&e)
	}
	l.Flush()
}
