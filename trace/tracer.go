package trace

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// Defaults of Config.
const (
	DefaultRatio     = 0.01
	DefaultQueueSize = 2048
	DefaultBatchSize = 512
	DefaultInterval  = time.Second
	DefaultTimeout   = 5 * time.Second
	tracesPath       = "/v1/traces"
)

// Config configures a Tracer.
type Config struct {
	// Endpoint is the OTLP/HTTP (protobuf) collector URL. A URL without a
	// path, or with "/", is a base URL and gets /v1/traces appended (as
	// OTEL_EXPORTER_OTLP_ENDPOINT does); any other path is used as given.
	// Empty with FromEnv false: no spans are recorded (ids and the
	// request id still work).
	Endpoint string
	// FromEnv takes the endpoint from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	// (used as given) or OTEL_EXPORTER_OTLP_ENDPOINT (a base URL) when
	// Endpoint is empty. The other OTEL_EXPORTER_OTLP_* variables
	// (headers, compression, certificates) are read by the otlptracehttp
	// client whenever spans are exported; the timeout variables set
	// Timeout when it is zero.
	FromEnv bool
	// Ratio is the TraceIDRatio of ParentBased(TraceIDRatio), in [0, 1].
	Ratio float64
	// TrustParent lets an incoming sampled flag decide sampling.
	TrustParent bool
	// ServiceName and ServiceVersion describe the resource
	// (service.name, service.version).
	ServiceName, ServiceVersion string
	// QueueSize bounds the spans waiting for the exporter; BatchSize is
	// the most spans per export request; Interval is the longest a span
	// waits for a batch to fill; Timeout bounds one export (with its
	// retries). Zero means the default.
	QueueSize, BatchSize int
	Interval, Timeout    time.Duration
	// Logger receives export failures (at most one line per Interval).
	Logger *slog.Logger
	// HTTPClient, if not nil, posts the spans (tests); the TLS variables
	// of the environment then do not apply.
	HTTPClient *http.Client
}

// Stats are the tracer's counters since start.
type Stats struct {
	Sampled  uint64 // spans handed to the exporter
	Dropped  uint64 // spans dropped because the queue was full
	Exported uint64 // spans the collector accepted
	Failed   uint64 // spans in export requests that failed
}

// Tracer decides sampling and records and exports spans. Its methods are
// safe for concurrent use; each event loop works through its own Loop.
type Tracer struct {
	sampler Sampler
	exp     *exporter // nil: no spans
	spans   spanPool

	sampled, dropped atomic.Uint64
}

// New returns a Tracer and starts its exporter goroutine when an endpoint
// is configured; Close stops it.
func New(cfg Config) (*Tracer, error) {
	s, err := NewSampler(cfg.Ratio, cfg.TrustParent)
	if err != nil {
		return nil, err
	}
	t := &Tracer{sampler: s}
	t.spans.max = orInt(cfg.QueueSize, DefaultQueueSize) + orInt(cfg.BatchSize, DefaultBatchSize)
	if cfg.Endpoint == "" && !cfg.FromEnv {
		return t, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		u, err := EndpointURL(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	} else if os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return nil, fmt.Errorf("cannot export spans: no endpoint (--trace-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT)")
	}
	if cfg.Timeout <= 0 {
		if cfg.Timeout, err = envTimeout(os.Getenv); err != nil {
			return nil, err
		}
	}
	timeout := orDuration(cfg.Timeout, DefaultTimeout)
	opts = append(opts, otlptracehttp.WithTimeout(timeout), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
		Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: timeout,
	}))
	if cfg.HTTPClient != nil {
		opts = append(opts, otlptracehttp.WithHTTPClient(cfg.HTTPClient))
	}
	if t.exp, err = startExporter(t, cfg, opts); err != nil {
		return nil, err
	}
	return t, nil
}

// envTimeout reads OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else
// OTEL_EXPORTER_OTLP_TIMEOUT (milliseconds) through getenv; 0 when
// neither is set. The client would read them too, but the timeout also
// bounds the export's context and its retries, so it is decided here.
func envTimeout(getenv func(string) string) (time.Duration, error) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		ms, err := strconv.ParseUint(v, 10, 31)
		if err != nil || ms == 0 {
			return 0, fmt.Errorf("cannot parse %s %q: want milliseconds > 0", name, v)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	return 0, nil
}

// EndpointURL returns the traces URL for a --trace-endpoint value: a base
// URL (no path or "/") gets /v1/traces appended.
func EndpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("cannot parse trace endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("cannot use trace endpoint %q: want http://host:port or https://host:port[/path]", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = tracesPath
	}
	return u.String(), nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Enabled reports whether spans are recorded at all.
func (t *Tracer) Enabled() bool { return t.exp != nil }

// Stats returns the counters.
func (t *Tracer) Stats() Stats {
	st := Stats{Sampled: t.sampled.Load(), Dropped: t.dropped.Load()}
	if t.exp != nil {
		st.Exported, st.Failed = t.exp.exported.Load(), t.exp.failed.Load()
	}
	return st
}

// Close exports what is queued (bounded by ctx) and stops the exporter
// goroutine. Spans finished after Close are dropped.
func (t *Tracer) Close(ctx context.Context) error {
	if t.exp == nil {
		return nil
	}
	return t.exp.close(ctx)
}

// NewLoop returns the per-loop half of t: it must be used by one goroutine
// at a time.
func (t *Tracer) NewLoop() *Loop { return &Loop{t: t, ids: NewIDGen()} }

// maxOpenShared bounds the shared spans a loop keeps open (see Shared).
const maxOpenShared = 8

// Loop starts and finishes spans for one event loop. Not safe for
// concurrent use.
type Loop struct {
	t   *Tracer
	ids IDGen

	// shared are the spans of operations that served several requests
	// (Shared), open until EndShared.
	shared  [maxOpenShared]sharedSpan
	nshared int
}

type sharedSpan struct {
	id uint64
	sp *Span
}

// IDs returns the loop's id generator.
func (l *Loop) IDs() *IDGen { return &l.ids }

// Begin returns the trace identity of a request whose trace context
// headers were collected in in: the incoming trace id when in is valid,
// else a generated one. When the request is sampled, the returned
// Context's Span is a server span named name starting at start (Unix
// nanoseconds) with the incoming parent and tracestate. Begin does not
// allocate.
func (l *Loop) Begin(in *Incoming, name string, start int64) Context {
	var c Context
	if in.Valid {
		c.TraceID, c.Parent = in.TraceID, in.Parent
	} else {
		c.TraceID = l.ids.TraceID()
	}
	if l.t.exp == nil || !l.t.sampler.Sample(c.TraceID, in.Valid, in.Flags) {
		return c
	}
	sp := l.span(c.TraceID, c.Parent, name, KindServer, start)
	sp.traceStateLen = uint16(in.TraceState(&sp.traceState))
	sp.remote = in.Valid
	c.Span = sp
	return c
}

// Child starts a span of kind in the trace of the sampled request c, as a
// child of its span; nil when c is not sampled.
func (l *Loop) Child(c *Context, name string, kind Kind, start int64) *Span {
	if c.Span == nil {
		return nil
	}
	sp := l.span(c.TraceID, c.Span.SpanID, name, kind, start)
	copy(sp.traceState[:], c.Span.TraceState())
	sp.traceStateLen = c.Span.traceStateLen
	return sp
}

func (l *Loop) span(t TraceID, parent SpanID, name string, kind Kind, start int64) *Span {
	sp := l.t.spans.get()
	sp.reset()
	sp.TraceID, sp.SpanID, sp.Parent = t, l.ids.SpanID(), parent
	sp.Name, sp.Kind, sp.Start, sp.flags = name, kind, start, FlagSampled
	return sp
}

// Finish ends sp at end (Unix nanoseconds) and hands it to the exporter;
// when the queue is full the span is dropped and counted. sp must not be
// used afterwards. A nil sp is ignored.
func (l *Loop) Finish(sp *Span, end int64) {
	if sp == nil {
		return
	}
	sp.End = end
	l.t.sampled.Add(1)
	if !l.t.exp.offer(sp) {
		l.t.dropped.Add(1)
		l.t.spans.put(sp)
	}
}

// Shared returns the span of operation id (a store round trip), which
// served the sampled request c, and links it to c's span. The first
// request to report id gets the span, as a child of its own span named
// name, from start to end (Unix ns), and fresh is true: the caller then
// sets its attributes. A later request reporting the same id before
// EndShared only adds its link, so one operation is one span whatever the
// number of sampled requests it served. nil when c is not sampled. Spans
// stay open until EndShared (when the loop has handled a batch of
// completions); past maxOpenShared the oldest is finished first.
func (l *Loop) Shared(c *Context, id uint64, name string, kind Kind, start, end int64) (sp *Span, fresh bool) {
	if c.Span == nil {
		return nil, false
	}
	for _, o := range l.shared[:l.nshared] {
		if o.id == id {
			o.sp.AddLink(c.TraceID, c.Span.SpanID)
			return o.sp, false
		}
	}
	if l.nshared == maxOpenShared {
		l.Finish(l.shared[0].sp, l.shared[0].sp.End)
		copy(l.shared[:], l.shared[1:])
		l.nshared--
	}
	sp = l.Child(c, name, kind, start)
	sp.End = end
	sp.AddLink(c.TraceID, c.Span.SpanID)
	l.shared[l.nshared] = sharedSpan{id: id, sp: sp}
	l.nshared++
	return sp, true
}

// EndShared finishes the spans Shared opened.
func (l *Loop) EndShared() {
	for i := range l.shared[:l.nshared] {
		l.Finish(l.shared[i].sp, l.shared[i].sp.End)
		l.shared[i] = sharedSpan{}
	}
	l.nshared = 0
}

// Discard returns sp unexported (a request that never completed). A nil
// sp is ignored.
func (l *Loop) Discard(sp *Span) {
	if sp != nil {
		l.t.spans.put(sp)
	}
}

// trimName keeps a service name printable in logs.
func trimName(s string) string { return strings.TrimSpace(s) }

// spanPool keeps span records for reuse: a free list under a mutex rather
// than a sync.Pool, because records are taken on the loops and given back
// by the exporter goroutine (a sync.Pool's per-P caches then miss, and a
// garbage collection empties it), so that a steady trickle of sampled
// requests allocates nothing. It holds at most max records: what the
// queue and the batch being exported can hold.
type spanPool struct {
	mu   sync.Mutex
	free []*Span
	max  int
}

func (p *spanPool) get() *Span {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		sp := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return sp
	}
	p.mu.Unlock()
	return new(Span)
}

func (p *spanPool) put(sp *Span) {
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, sp)
	}
	p.mu.Unlock()
}

// putAll gives back the records of one export at once.
func (p *spanPool) putAll(spans []*Span) {
	p.mu.Lock()
	for _, sp := range spans {
		if len(p.free) == p.max {
			break
		}
		p.free = append(p.free, sp)
	}
	p.mu.Unlock()
}
