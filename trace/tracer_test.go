package trace

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP receiver: it decodes what the exporter sends.
type collector struct {
	srv   *httptest.Server
	spans chan *tracepb.Span
	paths chan string
}

func newCollector(t *testing.T) *collector {
	c := &collector{spans: make(chan *tracepb.Span, 1000), paths: make(chan string, 100)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.paths <- r.URL.Path
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans <- s
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(func() {
		c.srv.Client().CloseIdleConnections()
		c.srv.Close()
	})
	return c
}

func (c *collector) next(t *testing.T) *tracepb.Span {
	t.Helper()
	select {
	case s := <-c.spans:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no span exported")
		return nil
	}
}

func newTestTracer(t *testing.T, cfg Config, client *http.Client) *Tracer {
	t.Helper()
	cfg.HTTPClient = client
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Error(err)
		}
		client.CloseIdleConnections()
	})
	return tr
}

func attrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value.GetStringValue()
	}
	return m
}

func TestTracerExportsSampledSpans(t *testing.T) {
	c := newCollector(t)
	tr := newTestTracer(t, Config{Endpoint: c.srv.URL, Ratio: 0, TrustParent: true, ServiceVersion: "test"}, c.srv.Client())
	l := tr.NewLoop()

	var in Incoming
	in.Field([]byte("traceparent"), []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	in.Field([]byte("tracestate"), []byte("rojo=1"))
	start := time.Now().UnixNano()
	ctx := l.Begin(&in, "POST /api/v1/price", start)
	if !ctx.Sampled() {
		t.Fatal("a trusted sampled parent was not sampled")
	}
	if got := string(ctx.AppendRequestID(nil)); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("request id %s", got)
	}
	ctx.Span.SetString("product_id", []byte("P-1"))
	ctx.Span.SetInt("http.response.status_code", 200)
	ev := ctx.Span.AddEvent("rules", start+10)
	ev.SetBool("rules.applied", true)
	child := l.Child(&ctx, "store round trip", KindClient, start+20)
	other := TraceID{9}
	child.AddLink(other, SpanID{7})
	l.Finish(child, start+30)
	ctx.Span.Status = StatusOK
	reqSpan := ctx.Span.SpanID
	l.Finish(ctx.Span, start+40)

	// An unsampled request: no span, a generated id.
	var none Incoming
	c2 := l.Begin(&none, "POST /api/v1/price", start)
	if c2.Sampled() || !c2.TraceID.IsValid() || c2.TraceID == ctx.TraceID {
		t.Fatalf("unsampled request: %+v", c2)
	}
	if l.Child(&c2, "x", KindClient, 0) != nil {
		t.Fatal("a child of an unsampled request")
	}

	got := map[string]*tracepb.Span{}
	for range 2 {
		s := c.next(t)
		got[s.Name] = s
	}
	if p := <-c.paths; p != "/v1/traces" {
		t.Fatalf("exported to %q", p)
	}
	rs, st := got["POST /api/v1/price"], got["store round trip"]
	if rs == nil || st == nil {
		t.Fatalf("spans %v", got)
	}
	if !bytes.Equal(rs.TraceId, ctx.TraceID[:]) || !bytes.Equal(rs.ParentSpanId, []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}) ||
		!bytes.Equal(rs.SpanId, reqSpan[:]) || rs.TraceState != "rojo=1" || rs.Kind != tracepb.Span_SPAN_KIND_SERVER ||
		rs.StartTimeUnixNano != uint64(start) || rs.EndTimeUnixNano != uint64(start+40) || rs.Status.Code != tracepb.Status_STATUS_CODE_OK ||
		rs.Flags&uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK) == 0 {
		t.Fatalf("request span %v", rs)
	}
	if a := attrs(rs); a["product_id"] != "P-1" || rs.Attributes[1].Value.GetIntValue() != 200 {
		t.Fatalf("attributes %v", rs.Attributes)
	}
	if len(rs.Events) != 1 || rs.Events[0].Name != "rules" || !rs.Events[0].Attributes[0].Value.GetBoolValue() {
		t.Fatalf("events %v", rs.Events)
	}
	if !bytes.Equal(st.TraceId, ctx.TraceID[:]) || !bytes.Equal(st.ParentSpanId, reqSpan[:]) || st.Kind != tracepb.Span_SPAN_KIND_CLIENT ||
		len(st.Links) != 1 || !bytes.Equal(st.Links[0].TraceId, other[:]) {
		t.Fatalf("store span %v", st)
	}
	if s := tr.Stats(); s.Sampled != 2 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEndpointURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":            "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":           "http://127.0.0.1:4318/v1/traces",
		"https://otel.example/custom/path": "https://otel.example/custom/path",
	} {
		if got, err := EndpointURL(in); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"127.0.0.1:4318", "ftp://x", "http://", "::"} {
		if _, err := EndpointURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSilentCollector: a collector that accepts connections and never
// answers. Finishing spans never waits; what does not fit is dropped and
// counted; Close is bounded.
func TestSilentCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c // held open, never read, never answered
		}
	}()
	defer func() {
		ln.Close()
		for c := range conns {
			c.Close()
		}
	}()
	client := &http.Client{Transport: &http.Transport{}}
	tr, err := New(Config{Endpoint: "http://" + ln.Addr().String(), Ratio: 1, QueueSize: 8, BatchSize: 4,
		Interval: time.Millisecond, Timeout: 200 * time.Millisecond, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	l := tr.NewLoop()
	var in Incoming
	begin := time.Now()
	for range 1000 {
		c := l.Begin(&in, "req", 1)
		l.Finish(c.Span, 2)
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("1000 spans took %v against a silent collector", d)
	}
	st := tr.Stats()
	if st.Sampled != 1000 || st.Dropped < 1000-8-4-4 || st.Exported != 0 {
		t.Fatalf("stats %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	if st := tr.Stats(); st.Failed == 0 {
		t.Fatalf("no failed export counted: %+v", st)
	}
}

func TestBeginDoesNotAllocate(t *testing.T) {
	for _, cfg := range []Config{{}, {Endpoint: "http://127.0.0.1:1", Ratio: 0}} {
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l := tr.NewLoop()
		tp := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		var id [RequestIDLen]byte
		allocs := testing.AllocsPerRun(1000, func() {
			var in Incoming
			in.Field([]byte("traceparent"), tp)
			c := l.Begin(&in, "req", 1)
			c.AppendRequestID(id[:0])
			var none Incoming
			c = l.Begin(&none, "req", 1)
			if c.Sampled() {
				t.Fatal("sampled")
			}
		})
		if allocs != 0 {
			t.Fatalf("%+v: %v allocations", cfg, allocs)
		}
		if err := tr.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSharedSpans: an operation reported by several sampled requests of a
// loop is one span, a child of the first request's span, linked to every
// request it served; EndShared exports it.
func TestSharedSpans(t *testing.T) {
	c := newCollector(t)
	tr := newTestTracer(t, Config{Endpoint: c.srv.URL, Ratio: 1}, c.srv.Client())
	l := tr.NewLoop()
	var in Incoming
	a, b := l.Begin(&in, "a", 1), l.Begin(&in, "b", 1)
	sa, fresh := l.Shared(&a, 42, "store round trip", KindClient, 5, 9)
	if !fresh {
		t.Fatal("first report not fresh")
	}
	sa.SetInt("keys", 3)
	if sb, fresh := l.Shared(&b, 42, "store round trip", KindClient, 5, 9); sb != sa || fresh {
		t.Fatal("second report of the same operation made another span")
	}
	var none Context
	if sp, _ := l.Shared(&none, 42, "x", KindClient, 0, 0); sp != nil {
		t.Fatal("a shared span for an unsampled request")
	}
	aID, bID := a.Span.SpanID, b.Span.SpanID
	l.Finish(a.Span, 10)
	l.Finish(b.Span, 10)
	l.EndShared()
	var trip *tracepb.Span
	for range 3 {
		if s := c.next(t); s.Name == "store round trip" {
			trip = s
		}
	}
	if trip == nil || !bytes.Equal(trip.ParentSpanId, aID[:]) || trip.StartTimeUnixNano != 5 || trip.EndTimeUnixNano != 9 ||
		len(trip.Links) != 2 || !bytes.Equal(trip.Links[0].SpanId, aID[:]) || !bytes.Equal(trip.Links[1].SpanId, bID[:]) ||
		!bytes.Equal(trip.Links[1].TraceId, b.TraceID[:]) {
		t.Fatalf("store span %v", trip)
	}
	if s := tr.Stats(); s.Sampled != 3 {
		t.Fatalf("stats %+v", s)
	}
}
