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
	msgs     *protoBatch
	// base is the parent of every export's context; abort cancels it
	// when Close's deadline passes with an export still retrying.
	base     context.Context
	abort    context.CancelFunc
	batch    int
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	exported, failed atomic.Uint64
}

// startExporter starts the client made with opts and the goroutine.
func startExporter(t *Tracer, cfg Config, opts []otlptracehttp.Option) (*exporter, error) {
	qs := orInt(cfg.QueueSize, DefaultQueueSize)
	name := trimName(cfg.ServiceName)
	if name == "" {
		name = "pricing-engine"
	}
	e := &exporter{
		t:       t,
		pending: make([]*Span, 0, qs),
		spare:   make([]*Span, 0, qs),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		client:  otlptracehttp.NewClient(opts...),
		msgs: newProtoBatch(&resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			strKV("service.name", name),
			strKV("service.version", cfg.ServiceVersion),
			strKV("telemetry.sdk.language", "go"),
		}}, scopeName),
		batch:    orInt(cfg.BatchSize, DefaultBatchSize),
		interval: orDuration(cfg.Interval, DefaultInterval),
		timeout:  orDuration(cfg.Timeout, DefaultTimeout),
		log:      cfg.Logger,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if err := e.client.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("cannot start the trace exporter: %w", err)
	}
	e.base, e.abort = context.WithCancel(context.Background())
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
			if e.base.Err() != nil {
				n = len(spans)
				e.failed.Add(uint64(n)) // aborted by Close
			} else {
				send(spans[:n])
			}
			e.t.spans.putAll(spans[:n])
			clear(spans[:n])
			spans = spans[n:]
		}
		e.spare = all[:0]
		if stopping {
			return
		}
	}
}

// export sends batch as one request, the client retrying within the
// timeout. The client has marshalled the messages when UploadTraces
// returns, so that they and the records they alias can be reused.
func (e *exporter) export(batch []*Span) error {
	ctx, cancel := context.WithTimeout(e.base, e.timeout)
	defer cancel()
	return e.client.UploadTraces(ctx, e.msgs.request(batch))
}

// close stops the goroutine after a last export, waiting until ctx is
// done at most: then the export under way is cancelled, retries
// included (its spans count as failed), and the goroutine ends without
// exporting the rest. When close returns the goroutine has ended and the
// client is stopped.
func (e *exporter) close(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	var err error
	select {
	case <-e.done:
	case <-ctx.Done():
		err = fmt.Errorf("cannot flush spans: %w", ctx.Err())
		e.abort()
		<-e.done
	}
	e.abort()
	// The goroutine has ended: no upload is in flight, Stop only marks
	// the client stopped.
	if serr := e.client.Stop(context.Background()); serr != nil && err == nil {
		err = fmt.Errorf("cannot stop the trace exporter: %w", serr)
	}
	return err
}
