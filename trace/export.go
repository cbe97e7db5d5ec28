package trace

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// scopeName is the instrumentation scope of every span.
const scopeName = "github.com/pricing-engine/pricing-engine/trace"

// exporter is the goroutine that owns the OTLP client. The loops offer
// finished spans to a bounded queue under a mutex held for an append, and
// never wait on the goroutine: it wakes on its ticker, or when a batch is
// full, and takes the whole queue at once. Waking it per span (a channel
// send to a parked goroutine) cost a futex wake-up and a scheduler round
// per sampled request, which at low ratios cost the loops more than the
// encoding; see docs/BENCHMARKS.md.
type exporter struct {
	t *Tracer

	mu      sync.Mutex
	pending []*Span // finished spans, at most cap (the queue size)
	closed  bool    // offer refuses spans
	spare   []*Span // the exporter's side of the double buffer

	kick     chan struct{} // capacity 1: a batch is full
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	client   otlptrace.Client
	resource *resourcepb.Resource
	batch    int
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	exported, failed atomic.Uint64
}

func startExporter(t *Tracer, cfg Config, opts []otlptracehttp.Option) (*exporter, error) {
	qs := orInt(cfg.QueueSize, DefaultQueueSize)
	e := &exporter{
		t:        t,
		pending:  make([]*Span, 0, qs),
		spare:    make([]*Span, 0, qs),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		client:   otlptracehttp.NewClient(opts...),
		batch:    orInt(cfg.BatchSize, DefaultBatchSize),
		interval: orDuration(cfg.Interval, DefaultInterval),
		timeout:  orDuration(cfg.Timeout, DefaultTimeout),
		log:      cfg.Logger,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	name := trimName(cfg.ServiceName)
	if name == "" {
		name = "pricing-engine"
	}
	e.resource = &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		strKV("service.name", name),
		strKV("service.version", cfg.ServiceVersion),
		strKV("telemetry.sdk.language", "go"),
	}}
	if err := e.client.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("cannot start trace exporter: %w", err)
	}
	go e.run()
	return e, nil
}

// offer queues sp without waiting; false when the queue is full or the
// exporter stopped. The span that fills a batch wakes the goroutine.
func (e *exporter) offer(sp *Span) bool {
	e.mu.Lock()
	if e.closed || len(e.pending) == cap(e.pending) {
		e.mu.Unlock()
		return false
	}
	e.pending = append(e.pending, sp)
	full := len(e.pending) == e.batch
	e.mu.Unlock()
	if full {
		select {
		case e.kick <- struct{}{}:
		default: // already woken
		}
	}
	return true
}

// take swaps the queue for the exporter's empty buffer and returns what
// was queued.
func (e *exporter) take() []*Span {
	e.mu.Lock()
	spans := e.pending
	e.pending = e.spare[:0]
	e.mu.Unlock()
	return spans
}

func (e *exporter) run() {
	defer close(e.done)
	tick := time.NewTicker(e.interval)
	defer tick.Stop()
	var lastLog time.Time
	send := func(batch []*Span) {
		if err := e.export(batch); err != nil {
			e.failed.Add(uint64(len(batch)))
			if now := time.Now(); now.Sub(lastLog) >= e.interval {
				lastLog = now
				e.log.Warn("cannot export spans", "spans", len(batch), "err", err)
			}
		} else {
			e.exported.Add(uint64(len(batch)))
		}
	}
	for {
		stopping := false
		select {
		case <-tick.C:
		case <-e.kick:
		case <-e.stop:
			e.mu.Lock()
			e.closed = true
			e.mu.Unlock()
			stopping = true
		}
		all := e.take()
		for spans := all; len(spans) > 0; {
			n := min(len(spans), e.batch)
			send(spans[:n])
			for i, sp := range spans[:n] {
				e.t.pool.Put(sp)
				spans[i] = nil
			}
			spans = spans[n:]
		}
		e.spare = all[:0]
		if stopping {
			return
		}
	}
}

func (e *exporter) export(batch []*Span) error {
	spans := make([]*tracepb.Span, len(batch))
	for i, sp := range batch {
		spans[i] = sp.proto()
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	return e.client.UploadTraces(ctx, []*tracepb.ResourceSpans{{
		Resource: e.resource,
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: scopeName},
			Spans: spans,
		}},
	}})
}

// close stops the goroutine after a last export, waiting at most until
// ctx is done.
func (e *exporter) close(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	select {
	case <-e.done:
	case <-ctx.Done():
		return fmt.Errorf("cannot flush spans: %w", ctx.Err())
	}
	if err := e.client.Stop(ctx); err != nil {
		return fmt.Errorf("cannot stop trace exporter: %w", err)
	}
	return nil
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func (s *Span) protoAttr(a *attr) *commonpb.KeyValue {
	switch a.kind {
	case attrInt:
		return &commonpb.KeyValue{Key: a.key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: a.i}}}
	case attrBool:
		return &commonpb.KeyValue{Key: a.key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: a.i != 0}}}
	}
	return strKV(a.key, string(s.arena[a.s:a.e]))
}

// proto encodes s as an OTLP span (on the exporter goroutine).
func (s *Span) proto() *tracepb.Span {
	p := &tracepb.Span{
		TraceId:                append([]byte(nil), s.TraceID[:]...),
		SpanId:                 append([]byte(nil), s.SpanID[:]...),
		TraceState:             string(s.TraceState()),
		Flags:                  s.otlpFlags(),
		Name:                   s.Name,
		Kind:                   tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano:      uint64(s.Start),
		EndTimeUnixNano:        uint64(s.End),
		DroppedAttributesCount: uint32(s.dropAttr),
		DroppedEventsCount:     uint32(s.dropEvents),
		DroppedLinksCount:      uint32(s.dropLinks),
		Status:                 &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status)},
	}
	if s.Parent.IsValid() {
		p.ParentSpanId = append([]byte(nil), s.Parent[:]...)
	}
	for i := range s.attrs[:s.nattrs] {
		p.Attributes = append(p.Attributes, s.protoAttr(&s.attrs[i]))
	}
	for i := range s.events[:s.nevents] {
		ev := &s.events[i]
		pe := &tracepb.Span_Event{Name: ev.name, TimeUnixNano: uint64(ev.at)}
		for j := range ev.attrs[:ev.nattrs] {
			pe.Attributes = append(pe.Attributes, s.protoAttr(&ev.attrs[j]))
		}
		p.Events = append(p.Events, pe)
	}
	for _, l := range s.links[:s.nlinks] {
		p.Links = append(p.Links, &tracepb.Span_Link{
			TraceId: append([]byte(nil), l.trace[:]...),
			SpanId:  append([]byte(nil), l.span[:]...),
			Flags:   uint32(FlagSampled),
		})
	}
	return p
}

// otlpFlags are the W3C flags plus whether the parent is remote (OTLP
// SpanFlags).
func (s *Span) otlpFlags() uint32 {
	f := uint32(s.flags) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if s.remote {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}
