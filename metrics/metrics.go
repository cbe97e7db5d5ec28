package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RequestBuckets are the classic buckets of http_request_duration_seconds:
// the usual 5 ms .. 10 s ladder with the 150 ms service-level objective
// added so that "share of requests under the SLO" is an exact bucket ratio.
var RequestBuckets = []float64{.005, .01, .025, .05, .1, .15, .25, .5, 1, 2.5, 5, 10}

// LookupBuckets are the classic buckets of pricing_lookup_duration_seconds,
// dense around the simulated back-end latencies (10..50 ms).
var LookupBuckets = []float64{.0001, .001, .005, .01, .02, .03, .04, .05, .075, .1, .25, .5, 1}

// NativeBucketFactor is the growth factor of the native (sparse) histograms
// exposed next to the classic buckets.
const NativeBucketFactor = 1.1

// Rejection reasons used as the reason label of pricing_requests_rejected_total.
const (
	// RejectWaitingLimit: a price or batch request answered 503 because
	// as many as Config.MaxWaiting requests already waited on lookups.
	RejectWaitingLimit = "waiting_limit"
	// RejectPoolFull: a request for the worker pool (the metrics
	// exposition) answered 503 because every worker was busy.
	RejectPoolFull    = "pool_full"
	RejectConnLimit   = "conn_limit"
	RejectLookupError = "lookup_error"
	RejectTimeout     = "timeout"
	RejectInputLimit  = "input_limit"
	RejectPanic       = "panic"
	// RejectMemoryBudget: closed because the bytes buffered for all
	// connections passed the global budget (it held the most unread output).
	RejectMemoryBudget = "memory_budget"
)

// Accept failure reasons used as the reason label of pricing_accept_errors_total.
const (
	AcceptFDLimit       = "fd_limit"        // EMFILE: the process's descriptor limit
	AcceptSystemFDLimit = "system_fd_limit" // ENFILE: the system's descriptor limit
	AcceptNoMemory      = "no_memory"       // ENOBUFS, ENOMEM
	AcceptRegister      = "register"        // handing the connection to an event loop failed
	AcceptOther         = "other"
)

// Lookup outcomes used as the outcome label of pricing_lookup_duration_seconds.
const (
	OutcomeOK       = "ok"
	OutcomeNotFound = "not_found"
	OutcomeError    = "error"
	OutcomeTimeout  = "timeout"
	OutcomeCanceled = "canceled"
)

// BuildInfo describes the running binary for pricing_build_info.
type BuildInfo struct {
	Version  string
	Revision string
}

// Set holds the service's collectors and the registry they are registered
// on. It is safe for concurrent use.
type Set struct {
	Registry *prometheus.Registry

	duration   *LoopHistogramVec
	connsOpen  prometheus.Gauge
	rejected   *prometheus.CounterVec
	acceptErrs *prometheus.CounterVec
	lookup     *prometheus.HistogramVec
	buffered   prometheus.Gauge

	// Requests off their event loop (counting.go) and the gauges read
	// from those counts.
	off          offLoop
	inFlight     prometheus.GaugeFunc
	waiting      prometheus.GaugeFunc
	waitingLimit prometheus.GaugeFunc
	queueDepth   prometheus.GaugeFunc
	busy         prometheus.GaugeFunc

	mu        sync.RWMutex
	observers map[observerKey]prometheus.Observer

	// lookupObs holds the lookup observers for the known lookup names and
	// outcomes, resolved once: the map is never written after New.
	lookupObs map[[2]string]prometheus.Observer
}

type observerKey struct {
	method, endpoint string
	code             int
}

// New creates the collectors and registers them, together with the Go
// runtime and process collectors, on a fresh registry.
func New(info BuildInfo) *Set {
	s := &Set{
		Registry: prometheus.NewRegistry(),
		duration: NewLoopHistogramVec(histogramOpts("http_request_duration_seconds",
			"Time from the event loop's read of a request's last bytes to its reply being queued for writing, by method, route template and status code.",
			RequestBuckets), []string{"method", "endpoint", "code"}),
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pricing_connections_open",
			Help: "Open client connections on the API listener.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricing_requests_rejected_total",
			Help: "Requests or connections refused to protect the service, by reason.",
		}, []string{"reason"}),
		lookup: prometheus.NewHistogramVec(histogramOpts("pricing_lookup_duration_seconds",
			"Duration of catalog and market lookups, by lookup and outcome.",
			LookupBuckets), []string{"lookup", "outcome"}),
		acceptErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricing_accept_errors_total",
			Help: "Failed accepts on the API listener, by reason (fd_limit: the process's descriptor limit; the listener backs off and retries).",
		}, []string{"reason"}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pricing_buffered_bytes",
			Help: "Bytes buffered for API connections (unparsed input plus unsent output) at the last scan, against the global budget.",
		}),
		observers: make(map[observerKey]prometheus.Observer),
	}
	o := &s.off
	s.inFlight = countGauge("pricing_requests_in_flight",
		"Requests taken off their event loop and not yet answered: price requests waiting on lookups plus worker pool tasks queued or running. Answers made on the loop at once are not counted.",
		func() int64 { return o.waiting.Load() + o.queued.Load() + o.busy.Load() })
	s.waiting = countGauge("pricing_lookups_waiting",
		"Price and batch requests waiting on their lookups. Each holds no goroutine: the store completes it by callback. Bounded by pricing_lookups_waiting_limit.",
		o.waiting.Load)
	s.waitingLimit = countGauge("pricing_lookups_waiting_limit",
		"The bound on pricing_lookups_waiting (--max-waiting); past it price and batch requests are answered 503 (reason waiting_limit).",
		o.limit.Load)
	s.queueDepth = countGauge("pricing_pool_queue_depth",
		"Tasks (the metrics exposition asked on the API port) submitted to the worker pool that no worker has started yet.",
		o.queued.Load)
	// Counted from the tasks, not from the pool: ants' Running() counts
	// idle workers too, until they expire.
	s.busy = countGauge("pricing_pool_workers_busy",
		"Worker pool goroutines running a task (the metrics exposition asked on the API port); idle workers are not counted.",
		o.busy.Load)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pricing_build_info",
		Help: "Build information of the running binary; the value is always 1.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(orUnknown(info.Version), orUnknown(info.Revision), runtime.Version()).Set(1)

	s.Registry.MustRegister(
		s.duration, s.inFlight, s.waiting, s.waitingLimit, s.connsOpen, s.rejected, s.acceptErrs, s.lookup, s.queueDepth, s.busy, s.buffered, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.lookupObs = make(map[[2]string]prometheus.Observer)
	for _, l := range []string{"catalog", "market", "catalog_market"} { // catalog_market: one lookup.Call (pricing.LookupCall)
		for _, o := range []string{OutcomeOK, OutcomeNotFound, OutcomeError, OutcomeTimeout, OutcomeCanceled} {
			s.lookupObs[[2]string{l, o}] = s.lookup.WithLabelValues(l, o)
		}
	}
	// Pre-create the rejection series so dashboards see zeros, not gaps.
	for _, r := range []string{RejectWaitingLimit, RejectPoolFull, RejectConnLimit, RejectLookupError, RejectTimeout, RejectInputLimit, RejectPanic, RejectMemoryBudget} {
		s.rejected.WithLabelValues(r)
	}
	for _, r := range []string{AcceptFDLimit, AcceptSystemFDLimit, AcceptNoMemory, AcceptRegister, AcceptOther} {
		s.acceptErrs.WithLabelValues(r)
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Request returns the observer of http_request_duration_seconds for one
// method, route template and status code that any goroutine may use (the
// requests answered off the event loops; a loop observes through its
// RequestLoop). Observations on it take a mutex. Observers are cached, so
// after the first call for a combination it neither allocates nor touches
// the collector's label map. The observer is also the series'
// prometheus.Metric (the counts of every observer of the series) and a
// prometheus.ExemplarObserver. method and endpoint must be drawn from
// small fixed sets (route templates, known methods), never from raw client
// input.
func (s *Set) Request(method, endpoint string, code int) prometheus.Observer {
	k := observerKey{method, endpoint, code}
	s.mu.RLock()
	o, ok := s.observers[k]
	s.mu.RUnlock()
	if ok {
		return o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok = s.observers[k]; !ok {
		o = s.duration.SharedObserver(method, endpoint, strconv.Itoa(code))
		s.observers[k] = o
	}
	return o
}

// RequestLoop is one event loop's observers of
// http_request_duration_seconds: counts the loop owns (LoopObserver),
// merged with every other loop's when the metrics are scraped. Only its
// loop uses it.
type RequestLoop struct {
	set   *Set
	obs   map[observerKey]*LoopObserver
	last  observerKey   // labels of the last observer handed out
	lastO *LoopObserver // and that observer
}

// NewRequestLoop returns the request-duration observers of a new event loop.
func (s *Set) NewRequestLoop() *RequestLoop {
	return &RequestLoop{set: s, obs: make(map[observerKey]*LoopObserver)}
}

// Observer returns the loop's observer for the labels (see Set.Request for
// what they may be), created on first use. Runs of requests with the same
// labels (the common case: one route, one status) skip the map: hashing
// two strings per request cost more than the rest of the bookkeeping.
func (r *RequestLoop) Observer(method, endpoint string, code int) *LoopObserver {
	k := observerKey{method, endpoint, code}
	if r.lastO != nil && k == r.last {
		return r.lastO
	}
	o, ok := r.obs[k]
	if !ok {
		o = r.set.duration.NewObserver(method, endpoint, strconv.Itoa(code))
		r.obs[k] = o
	}
	r.last, r.lastO = k, o
	return o
}

// ConnectionsOpen is the gauge of open API connections.
func (s *Set) ConnectionsOpen() prometheus.Gauge { return s.connsOpen }

// AcceptErrors returns the counter of failed accepts for reason (one of
// the Accept* constants).
func (s *Set) AcceptErrors(reason string) prometheus.Counter {
	return s.acceptErrs.WithLabelValues(reason)
}

// Buffered is the gauge of bytes buffered for API connections.
func (s *Set) Buffered() prometheus.Gauge { return s.buffered }

// Rejected returns the counter of rejections for reason (one of the Reject*
// constants).
func (s *Set) Rejected(reason string) prometheus.Counter {
	return s.rejected.WithLabelValues(reason)
}

// ObserveLookup records one lookup's duration. lookup is "catalog" or
// "market"; outcome is one of the Outcome* constants.
func (s *Set) ObserveLookup(lookup, outcome string, d time.Duration) {
	o, ok := s.lookupObs[[2]string{lookup, outcome}]
	if !ok {
		o = s.lookup.WithLabelValues(lookup, outcome)
	}
	o.Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus exposition formats
// (protobuf for scrapers that negotiate native histograms, text otherwise).
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{
		Registry:          s.Registry,
		EnableOpenMetrics: true, // exemplars (trace ids) need OpenMetrics; asked for by Accept only
	})
}

// histogramOpts are the options of every histogram here: the classic
// buckets given, plus a native histogram (factor NativeBucketFactor, at most
// 160 buckets, reset at most hourly) for scrapers that ask for protobuf.
func histogramOpts(name, help string, buckets []float64) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Name:                            name,
		Help:                            help,
		Buckets:                         buckets,
		NativeHistogramBucketFactor:     NativeBucketFactor,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: time.Hour,
	}
}
