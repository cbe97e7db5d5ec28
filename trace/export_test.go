package trace

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestExportAllocationsPerSpan: an export through the client to a
// collector, once warm, allocates about as much for a full batch as for
// a few spans: the messages are reused, and what remains is the client's
// per-request work (the HTTP request, one marshalled body).
func TestExportAllocationsPerSpan(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	tr := newTestTracer(t, Config{Endpoint: srv.URL, Ratio: 1, Interval: time.Hour}, srv.Client())
	// No span is offered: the exporter goroutine leaves the messages to
	// this test.
	e := tr.exp
	full := testSpans(DefaultBatchSize)
	perExport := func(spans []*Span) float64 {
		for range 3 {
			if err := e.export(spans); err != nil {
				t.Fatal(err)
			}
		}
		return testing.AllocsPerRun(20, func() {
			if err := e.export(spans); err != nil {
				t.Error(err)
			}
		})
	}
	few := perExport(full[:4])
	all := perExport(full)
	t.Logf("allocations per export: %v for 4 spans, %v for %d", few, all, len(full))
	if perSpan := (all - few) / float64(len(full)-4); perSpan > 0.05 {
		t.Fatalf("%.3f allocations per span (%v per export of 4 spans, %v of %d)", perSpan, few, all, len(full))
	}
}

// TestExportFromEnvironment: with only OTEL_EXPORTER_OTLP_ENDPOINT (a base
// URL) the spans reach /v1/traces, with the headers and the compression
// the environment names; 503 and 429 are retried until the collector
// accepts.
func TestExportFromEnvironment(t *testing.T) {
	var calls atomic.Int32
	got := make(chan *coltracepb.ExportTraceServiceRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Api-Key") != "s cret" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "wrong path or headers", http.StatusBadRequest)
			return
		}
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(zr)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- &req
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%20cret")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	tr, err := New(Config{FromEnv: true, Ratio: 1, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := tr.NewLoop()
	var in Incoming
	c := l.Begin(&in, "req", 1)
	l.Finish(c.Span, 2)
	select {
	case req := <-got:
		s := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
		if s.Name != "req" || !bytes.Equal(s.TraceId, c.TraceID[:]) {
			t.Fatalf("exported %v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing exported after %d attempts", calls.Load())
	}
	if err := tr.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported != 1 || st.Failed != 0 || calls.Load() != 3 {
		t.Fatalf("stats %+v after %d attempts", st, calls.Load())
	}
}

// TestCloseStopsRetryingExport: an export retrying against a collector
// that keeps answering 503 ends when Close's deadline passes, long before
// its own timeout; its spans count as failed and the goroutine ends
// (goleak checks).
func TestCloseStopsRetryingExport(t *testing.T) {
	attempts := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case attempts <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)
	tr, err := New(Config{Endpoint: srv.URL, Ratio: 1, Interval: time.Millisecond, Timeout: time.Minute, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	l := tr.NewLoop()
	var in Incoming
	c := l.Begin(&in, "req", 1)
	l.Finish(c.Span, 2)
	for range 2 { // the first attempt and a retry
		select {
		case <-attempts:
		case <-time.After(10 * time.Second):
			t.Fatal("no export attempt")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := tr.Close(ctx); err == nil {
		t.Fatal("Close reported no error with the export cut short")
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if st := tr.Stats(); st.Failed != 1 || st.Exported != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEnvTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{name: "none"},
		{name: "generic", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, want: 2500 * time.Millisecond},
		{name: "traces wins", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": " 700 "},
			want: 700 * time.Millisecond},
		{name: "unit", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "1s"}, wantErr: "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{name: "zero", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "0"}, wantErr: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		{name: "negative", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "-5"}, wantErr: "want milliseconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := envTimeout(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%v %v, want %v", got, err, tc.want)
			}
		})
	}
}

// FuzzEnvTimeout: any OTEL_EXPORTER_OTLP_TIMEOUT value is a positive
// number of milliseconds or an error naming the variable, never a panic.
func FuzzEnvTimeout(f *testing.F) {
	for _, s := range []string{"2500", " 1 ", "0", "-1", "1s", "", "2147483647", "2147483648", "1e3", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := envTimeout(func(k string) string {
			if k == "OTEL_EXPORTER_OTLP_TIMEOUT" {
				return s
			}
			return ""
		})
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TIMEOUT") {
				t.Fatalf("%q: error %v does not name the variable", s, err)
			}
		case strings.TrimSpace(s) == "":
			if d != 0 {
				t.Fatalf("empty %q gave %v", s, d)
			}
		case d <= 0 || d%time.Millisecond != 0:
			t.Fatalf("%q gave %v", s, d)
		}
	})
}
