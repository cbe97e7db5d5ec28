package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/trace"
)

// traceConfig is the flags of tracing and the access log.
type traceConfig struct {
	endpoint        string
	sample          float64
	trustParent     bool
	accessLog       string
	accessLogSample float64
}

// ratioValue is a flag value in [0, 1].
type ratioValue struct{ p *float64 }

func (v ratioValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

func (v ratioValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return fmt.Errorf("want a ratio from 0 to 1")
	}
	*v.p = f
	return nil
}

// register declares the tracing flags on fs.
func (t *traceConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&t.endpoint, "trace-endpoint", "", "OTLP/HTTP (protobuf) collector URL for the spans of sampled requests; a base URL such as http://127.0.0.1:4318 gets /v1/traces appended; OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS) are honoured, and OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone turn tracing on. Empty: no spans (X-Request-Id still on every reply)")
	t.sample = trace.DefaultRatio
	fs.Var(ratioValue{&t.sample}, "trace-sample", "share of requests traced: ParentBased(TraceIDRatio), decided on the trace id")
	boolFlag(fs, &t.trustParent, "trace-trust-parent", "let an incoming traceparent's sampled flag decide sampling (off: clients cannot make every request traced)")
	fs.StringVar(&t.accessLog, "access-log", "off", "access log destination: off, stderr or a file path (JSON lines, written off the event loops; the file is reopened on SIGHUP for logrotate)")
	t.accessLogSample = 1
	fs.Var(ratioValue{&t.accessLogSample}, "access-log-sample", "share of requests written to the access log, decided on the trace id")
}

// tracing is tracing and the access log at run time.
type tracing struct {
	tracer    *trace.Tracer
	accessLog *trace.AccessLog // nil when off
	log       *slog.Logger
}

// newTracing starts the span exporter and the access log writer the
// flags ask for and registers their metrics.
func newTracing(cfg *traceConfig, log *slog.Logger, mset *metrics.Set) (*tracing, error) {
	fromEnv := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	tr, err := trace.New(trace.Config{
		Endpoint:       cfg.endpoint,
		FromEnv:        fromEnv,
		Ratio:          cfg.sample,
		TrustParent:    cfg.trustParent,
		ServiceName:    serviceName(),
		ServiceVersion: version,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	t := &tracing{tracer: tr, log: log}
	if cfg.accessLog != "" && cfg.accessLog != "off" {
		t.accessLog, err = trace.OpenAccessLog(trace.AccessLogConfig{Dest: cfg.accessLog, Sample: cfg.accessLogSample, Logger: log})
		if err != nil {
			_ = tr.Close(context.Background())
			return nil, err
		}
	}
	metrics.NewTrace(mset.Registry, t.stats)
	if tr.Enabled() {
		log.Info("tracing", "endpoint", cfg.endpoint, "sample", cfg.sample, "trust_parent", cfg.trustParent)
	}
	return t, nil
}

// serviceName is OTEL_SERVICE_NAME, else pricing-engine.
func serviceName() string {
	if s := os.Getenv("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return "pricing-engine"
}

func (t *tracing) stats() metrics.TraceStats {
	s := t.tracer.Stats()
	out := metrics.TraceStats{SpansSampled: s.Sampled, SpansDropped: s.Dropped, SpansExported: s.Exported, SpansFailed: s.Failed}
	if t.accessLog != nil {
		a := t.accessLog.Stats()
		out.AccessLines, out.AccessDropped, out.AccessErrors = a.Written, a.Dropped, a.Errors
	}
	return out
}

// start reopens the access log file on SIGHUP until ctx ends.
func (t *tracing) start(ctx context.Context) {
	if t.accessLog == nil {
		return
	}
	onHangup(ctx, func() {
		if err := t.accessLog.Reopen(); err != nil {
			t.log.Warn("cannot reopen the access log; writing on to the old file", "err", err)
		}
	})
}

// close flushes the spans (bounded by ctx) and the access log.
func (t *tracing) close(ctx context.Context) {
	if err := t.tracer.Close(ctx); err != nil {
		t.log.Warn("spans not exported at exit", "err", err)
	}
	if t.accessLog != nil {
		if err := t.accessLog.Close(); err != nil {
			t.log.Warn("cannot close the access log", "err", err)
		}
	}
}
