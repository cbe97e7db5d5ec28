package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// LoopHistogramVec is a histogram vector, classic and native, whose
// observations are recorded by event loops into counts each loop owns and
// are merged only when the vector is collected. An observation costs no
// contended atomic operation and no map look-up: a loop's observer
// ([LoopObserver]) is written by that loop alone, with two uncontended
// atomic stores (one count, the sum) a scrape on another goroutine can
// read. One count serves the classic and the native histogram: an
// observer counts by native bucket, and splits the few native buckets a
// classic bound falls into.
//
// What a scrape shows is what a client_golang histogram (prometheus.NewHistogramVec)
// built from the same options shows after the same observations: name,
// help, labels, classic buckets, count, sum, native schema, zero threshold,
// zero bucket, spans and deltas, the bucket limit (the schema halves as
// client_golang halves it; the series resets, and schedules resets, when
// client_golang resets it), the created timestamp and the exemplars (kept
// by a client_golang histogram that sees only the exemplar observations).
// The sum of several observers is added observer by observer, so with
// more than one observer its last bits may differ from client_golang's
// own order of additions, which differs between its scrapes too.
//
// Consistency: every figure of a scrape (count, classic buckets, native
// buckets, zero bucket) is a sum of the same counts, so count equals the
// +Inf bucket and the native buckets plus the zero bucket exactly, and
// no figure ever falls between scrapes (bar resets). Each count is read
// atomically, one after the other: an observation made during a scrape
// is in all those figures or in none of them. The sum is read apart from
// the counts, so it may include or lack observations made while the scrape
// reads (client_golang's sum and count can be an observation apart too).
//
// Only the options NewLoopHistogramVec documents are supported.
type LoopHistogramVec struct {
	desc       *prometheus.Desc
	labelNames []string
	opts       prometheus.HistogramOpts
	upper      []float64 // classic upper bounds, without +Inf
	schema     int32     // initial native schema
	bounds     []float64 // native bucket bounds of one octave at schema (fractions in [0.5, 1))
	denseLo    int       // first native key counted in an observer's dense slots
	maxBuckets int
	minReset   time.Duration

	// An observer's counts are slots: first one per classic bucket for
	// the zero bucket, then the dense native keys from denseLo, each
	// split by the classic buckets its values fall into (dense[j] says
	// where key denseLo+j starts); slotKey and slotClassic tell what the
	// slots from len(upper)+1 on count.
	dense       []denseKey
	slotKey     []int
	slotClassic []int
	slots       int

	// now and afterFunc are time.Now and time.AfterFunc; tests replace
	// them to drive the reset rules.
	now       func() time.Time
	afterFunc func(time.Duration, func()) *time.Timer

	mu     sync.Mutex
	series map[string]*loopSeries
}

// denseKey is where a dense native key's slots start and the classic
// buckets its values fall into, from first to last.
type denseKey struct {
	base, first, last int32
}

// schema3Bounds are the native bucket boundaries of one octave at schema 3
// (2^(i/8)/2), the constants of the native histogram specification as
// client_golang and the Prometheus server spell them; the boundaries of
// schemas 0 to 2 are every second, fourth or eighth of them.
var schema3Bounds = [8]float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

const (
	// zeroThreshold is client_golang's default zero bucket width
	// (prometheus.DefNativeHistogramZeroThreshold, 2^-128).
	zeroThreshold = 2.938735877055719e-39
	// denseOctaves is how many octaves of native buckets, from 2^-32
	// (a quarter nanosecond, in seconds) up, an observer counts in its
	// slots; keys outside them (and negative, infinite, NaN values) go
	// to a map under the observer's mutex.
	denseOctaves     = 40
	denseFirstOctave = -32
	// minSchema is the lowest schema client_golang halves down to.
	minSchema = -4
)

// NewLoopHistogramVec returns a vector for opts and labelNames. opts may set
// Namespace, Subsystem, Name, Help, ConstLabels, Buckets,
// NativeHistogramBucketFactor (picking a schema from 0 to 3, that is a
// factor from 1.0905 to 2), NativeHistogramMaxBucketNumber and
// NativeHistogramMinResetDuration; it panics on any other native histogram
// option, or on buckets that are not increasing.
func NewLoopHistogramVec(opts prometheus.HistogramOpts, labelNames []string) *LoopHistogramVec {
	if opts.NativeHistogramZeroThreshold != 0 || opts.NativeHistogramMaxZeroThreshold != 0 ||
		opts.NativeHistogramMaxExemplars != 0 || opts.NativeHistogramExemplarTTL != 0 {
		panic("metrics: LoopHistogramVec supports the default zero threshold and exemplar limits only")
	}
	schema := pickSchema(opts.NativeHistogramBucketFactor)
	if schema < 0 || schema > 3 {
		panic(fmt.Sprintf("metrics: LoopHistogramVec supports native schemas 0 to 3, factor %v picks %d", opts.NativeHistogramBucketFactor, schema))
	}
	upper := slices.Clone(opts.Buckets)
	if len(upper) == 0 {
		upper = slices.Clone(prometheus.DefBuckets)
	}
	for i := 1; i < len(upper); i++ {
		if upper[i-1] >= upper[i] {
			panic(fmt.Sprintf("metrics: histogram buckets must be increasing: %v >= %v", upper[i-1], upper[i]))
		}
	}
	if math.IsInf(upper[len(upper)-1], +1) {
		upper = upper[:len(upper)-1]
	}
	step := 1 << (3 - schema)
	var bounds []float64
	for i := 0; i < len(schema3Bounds); i += step {
		bounds = append(bounds, schema3Bounds[i])
	}
	v := &LoopHistogramVec{
		desc: prometheus.NewDesc(prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name),
			opts.Help, labelNames, opts.ConstLabels),
		labelNames: slices.Clone(labelNames),
		opts:       opts,
		upper:      upper,
		schema:     schema,
		bounds:     bounds,
		denseLo:    denseFirstOctave * len(bounds),
		maxBuckets: int(opts.NativeHistogramMaxBucketNumber),
		minReset:   opts.NativeHistogramMinResetDuration,
		now:        time.Now,
		afterFunc:  time.AfterFunc,
		series:     make(map[string]*loopSeries),
	}
	v.slots = len(upper) + 1
	for j := range denseOctaves * len(bounds) {
		k := v.denseLo + j
		first := v.classicBucket(math.Nextafter(v.upperBound(k-1), math.Inf(+1)))
		last := v.classicBucket(v.upperBound(k))
		v.dense = append(v.dense, denseKey{base: int32(v.slots), first: int32(first), last: int32(last)})
		for b := first; b <= last; b++ {
			v.slotKey = append(v.slotKey, k)
			v.slotClassic = append(v.slotClassic, b)
		}
		v.slots += last - first + 1
	}
	return v
}

// upperBound is the upper bound of native bucket k at the initial schema.
func (v *LoopHistogramVec) upperBound(k int) float64 {
	return math.Ldexp(v.bounds[k&(len(v.bounds)-1)], k>>v.schema+1)
}

// classicBucket is the index of x's classic bucket, len(upper) for +Inf
// (and NaN, as in client_golang).
func (v *LoopHistogramVec) classicBucket(x float64) int {
	for i, ub := range v.upper {
		if x <= ub {
			return i
		}
	}
	return len(v.upper)
}

// nativeKey is the native bucket index of x > 0 at the initial schema:
// bucket k holds (2^((k-1)/2^schema), 2^(k/2^schema)]. +Inf is one above
// math.MaxFloat64's bucket, as in client_golang.
func (v *LoopHistogramVec) nativeKey(x float64) int {
	inf := 0
	if math.IsInf(x, +1) {
		x, inf = math.MaxFloat64, 1
	}
	frac, exp := math.Frexp(x)
	i := 0
	for i < len(v.bounds) && v.bounds[i] < frac {
		i++
	}
	return i + (exp-1)*len(v.bounds) + inf
}

// slot is the observer slot counting x, or -1 when x is counted in the
// observer's map: negative past the zero bucket, NaN, or positive outside
// the dense native keys.
func (v *LoopHistogramVec) slot(x float64) int {
	if x > zeroThreshold {
		j := v.nativeKey(x) - v.denseLo
		if uint(j) >= uint(len(v.dense)) {
			return -1
		}
		d := v.dense[j]
		b := d.first
		for b < d.last && x > v.upper[b] {
			b++
		}
		return int(d.base + b - d.first)
	}
	if x >= -zeroThreshold {
		return v.classicBucket(x)
	}
	return -1
}

// farKey is a count in an observer's map: a value's native bucket (at the
// initial schema; none for NaN) and classic bucket.
type farKey struct {
	kind    uint8 // farPositive, farNegative or farNaN
	key     int
	classic int
}

const (
	farPositive = iota
	farNegative
	farNaN
)

func (v *LoopHistogramVec) farKey(x float64) farKey {
	switch {
	case math.IsNaN(x):
		return farKey{kind: farNaN, classic: len(v.upper)}
	case x < 0:
		return farKey{kind: farNegative, key: v.nativeKey(-x), classic: v.classicBucket(x)}
	default:
		return farKey{kind: farPositive, key: v.nativeKey(x), classic: v.classicBucket(x)}
	}
}

// pickSchema is client_golang's choice of schema for a bucket factor: the
// largest n with 2^(2^-n) <= factor, within -4..8.
func pickSchema(factor float64) int32 {
	if factor <= 1 {
		panic(fmt.Sprintf("metrics: native bucket factor %v is <= 1", factor))
	}
	floor := math.Floor(math.Log2(math.Log2(factor)))
	switch {
	case floor <= -8:
		return 8
	case floor >= 4:
		return minSchema
	default:
		return -int32(floor)
	}
}

// Describe implements prometheus.Collector.
func (v *LoopHistogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector: one metric per series with at
// least one observer.
func (v *LoopHistogramVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	list := make([]*loopSeries, 0, len(v.series))
	for _, s := range v.series {
		list = append(list, s)
	}
	v.mu.Unlock()
	for _, s := range list {
		ch <- s
	}
}

// NewObserver returns a new observer of the series for labelValues (in
// the order of the vector's label names), creating the series if needed.
// The observer must be used by one goroutine at a time (an event loop):
// its counts stay in the series after it is dropped. Each call allocates;
// callers keep what it returns.
func (v *LoopHistogramVec) NewObserver(labelValues ...string) *LoopObserver {
	s := v.seriesFor(labelValues)
	o := v.newObserver(s)
	s.mu.Lock()
	s.observers = append(s.observers, o)
	s.mu.Unlock()
	return o
}

// SharedObserver returns the observer of the series for labelValues that
// any goroutine may use: observations on it take a mutex. It is meant for
// the few observations made off the event loops. It also implements
// prometheus.Metric and prometheus.ExemplarObserver.
func (v *LoopHistogramVec) SharedObserver(labelValues ...string) prometheus.Observer {
	s := v.seriesFor(labelValues)
	s.sharedOnce.Do(func() { s.shared = &sharedObserver{o: v.NewObserver(labelValues...)} })
	return s.shared
}

func (v *LoopHistogramVec) seriesFor(labelValues []string) *loopSeries {
	if len(labelValues) != len(v.labelNames) {
		panic(fmt.Sprintf("metrics: %d label values for %d label names", len(labelValues), len(v.labelNames)))
	}
	key := strings.Join(labelValues, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.series[key]; ok {
		return s
	}
	ex := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:                            "exemplars",
		Help:                            "Exemplars of one series.",
		Buckets:                         v.upper,
		NativeHistogramBucketFactor:     v.opts.NativeHistogramBucketFactor,
		NativeHistogramMaxBucketNumber:  v.opts.NativeHistogramMaxBucketNumber,
		NativeHistogramMinResetDuration: v.opts.NativeHistogramMinResetDuration,
	})
	s := &loopSeries{
		vec:       v,
		labels:    prometheus.MakeLabelPairs(v.desc, labelValues),
		ex:        ex.(prometheus.ExemplarObserver),
		exMetric:  ex,
		schema:    v.schema,
		lastReset: v.now(),
	}
	s.clearPopulation()
	v.series[key] = s
	return s
}

func (v *LoopHistogramVec) newObserver(s *loopSeries) *LoopObserver {
	gen := s.state.Load() >> 1
	return &LoopObserver{
		s:      s,
		v:      v,
		seen:   gen << 1,
		gen:    gen,
		counts: make([]atomic.Uint64, v.slots),
		far:    make(map[farKey]uint64),
	}
}

// nativeKey is a native bucket at the initial schema: its index and the
// sign of the values it counts.
type nativeKey struct {
	key int
	neg bool
}

// loopSeries is one labelled histogram: its observers and the native
// bucket limit state, which spans all of them.
type loopSeries struct {
	vec      *LoopHistogramVec
	labels   []*dto.LabelPair
	ex       prometheus.ExemplarObserver // sees the exemplar observations only
	exMetric prometheus.Metric

	// state is gen<<1 | over: gen counts resets (an observer whose counts
	// are of an older generation is read as empty and clears itself at
	// its next observation) and over is set while the populated native
	// buckets exceed the limit at the current schema, so that every
	// observation applies the limit, as client_golang does.
	state atomic.Uint64

	sharedOnce sync.Once
	shared     *sharedObserver

	mu        sync.Mutex // guards the fields below; taken by scrapes and on slow paths only
	observers []*LoopObserver
	schema    int32 // current schema (lowered by the bucket limit)
	// populated holds, per schema from the initial one down to
	// minSchema, the native buckets observed since the last reset.
	populated      []map[nativeKey]struct{}
	lastReset      time.Time
	resetScheduled bool
}

var _ prometheus.Metric = (*loopSeries)(nil)

// Desc implements prometheus.Metric.
func (s *loopSeries) Desc() *prometheus.Desc { return s.vec.desc }

func (s *loopSeries) clearPopulation() {
	s.populated = make([]map[nativeKey]struct{}, s.vec.schema-minSchema+1)
	for i := range s.populated {
		s.populated[i] = make(map[nativeKey]struct{})
	}
}

// reduce returns the index at schema of the native bucket k (at the
// initial schema): each schema step merges two buckets into one, ceil(k/2).
func (s *loopSeries) reduce(k int, schema int32) int {
	shift := s.vec.schema - schema
	return -((-k) >> shift)
}

// created records that an observer made of generation gen populated the
// native bucket k for the first time, and applies the bucket limit. It
// reports whether the series was reset, in which case the caller records
// the observation again (client_golang keeps the observation that caused
// a reset).
func (s *loopSeries) created(gen uint64, k nativeKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.state.Load()>>1 {
		return false // counts of a generation already reset
	}
	for i := range s.populated {
		s.populated[i][nativeKey{s.reduce(k.key, s.vec.schema-int32(i)), k.neg}] = struct{}{}
	}
	return s.limitLocked()
}

// limit applies the bucket limit after an observation of generation gen
// while the series is over it. It reports whether the series was reset.
func (s *loopSeries) limit(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.state.Load()>>1 {
		return false
	}
	return s.limitLocked()
}

func (s *loopSeries) popAt(schema int32) int { return len(s.populated[s.vec.schema-schema]) }

// limitLocked is client_golang's bucket limit strategy without the zero
// bucket widening (the maximum zero threshold is 0): past the limit, reset
// when the last reset is MinResetDuration old and no reset is scheduled,
// otherwise schedule a reset for when it will be and halve the resolution.
func (s *loopSeries) limitLocked() bool {
	v := s.vec
	st := s.state.Load()
	if v.maxBuckets == 0 || s.popAt(s.schema) <= v.maxBuckets {
		s.state.Store(st &^ 1)
		return false
	}
	if v.minReset > 0 && !s.resetScheduled && v.now().Sub(s.lastReset) >= v.minReset {
		s.resetLocked()
		return true
	}
	if v.minReset > 0 && !s.resetScheduled {
		s.resetScheduled = true
		v.afterFunc(v.minReset-v.now().Sub(s.lastReset), s.scheduledReset)
	}
	if s.schema > minSchema {
		s.schema--
	}
	if s.schema > minSchema && s.popAt(s.schema) > v.maxBuckets {
		s.state.Store(st | 1)
	} else {
		s.state.Store(st &^ 1)
	}
	return false
}

func (s *loopSeries) scheduledReset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
	s.resetScheduled = false
}

// resetLocked starts a new generation: every observer's counts read as
// empty until it clears them.
func (s *loopSeries) resetLocked() {
	s.state.Store((s.state.Load()>>1 + 1) << 1)
	s.schema = s.vec.schema
	s.clearPopulation()
	s.lastReset = s.vec.now()
}

// Write implements prometheus.Metric: the merged counts of the series'
// observers of the current generation.
func (s *loopSeries) Write(out *dto.Metric) error {
	v := s.vec
	var exm dto.Metric
	if err := s.exMetric.Write(&exm); err != nil {
		return fmt.Errorf("exemplars of %s: %w", v.desc, err)
	}

	var (
		snap    = observerSnapshot{counts: make([]uint64, v.slots), far: make(map[farKey]uint64)}
		sum     float64
		counts  = make([]uint64, v.slots)
		far     = make(map[farKey]uint64)
		classic = make([]uint64, len(v.upper)+1)
		zero    uint64
	)
	s.mu.Lock()
	gen := s.state.Load() >> 1
	schema, created := s.schema, s.lastReset
	for _, o := range s.observers {
		if !o.snapshot(&snap, gen) {
			continue
		}
		sum += snap.sum
		for i, c := range snap.counts {
			counts[i] += c
		}
		for k, c := range snap.far {
			far[k] += c
		}
	}
	s.mu.Unlock()

	var pos, neg []bucketCount
	for i, c := range counts[:len(classic)] {
		classic[i] += c
		zero += c
	}
	for i, c := range counts[len(classic):] {
		if c != 0 {
			classic[v.slotClassic[i]] += c
			pos = append(pos, bucketCount{v.slotKey[i], c})
		}
	}
	for k, c := range far {
		classic[k.classic] += c
		switch k.kind {
		case farPositive:
			pos = append(pos, bucketCount{k.key, c})
		case farNegative:
			neg = append(neg, bucketCount{k.key, c})
		}
	}

	var count uint64
	for _, c := range classic {
		count += c
	}
	h := &dto.Histogram{
		SampleCount:      proto.Uint64(count),
		SampleSum:        proto.Float64(sum),
		CreatedTimestamp: timestamppb.New(created),
		Bucket:           make([]*dto.Bucket, len(v.upper)),
		Schema:           proto.Int32(schema),
		ZeroThreshold:    proto.Float64(zeroThreshold),
		ZeroCount:        proto.Uint64(zero),
	}
	var cum uint64
	exBuckets := exm.GetHistogram().GetBucket()
	for i, ub := range v.upper {
		cum += classic[i]
		h.Bucket[i] = &dto.Bucket{CumulativeCount: proto.Uint64(cum), UpperBound: proto.Float64(ub)}
		if i < len(exBuckets) {
			h.Bucket[i].Exemplar = exBuckets[i].Exemplar
		}
	}
	if len(exBuckets) > len(v.upper) { // an exemplar in the +Inf bucket
		h.Bucket = append(h.Bucket, &dto.Bucket{
			CumulativeCount: proto.Uint64(count), UpperBound: proto.Float64(math.Inf(+1)),
			Exemplar: exBuckets[len(v.upper)].Exemplar,
		})
	}
	h.Exemplars = exm.GetHistogram().GetExemplars()
	h.PositiveSpan, h.PositiveDelta = s.spans(pos, schema)
	h.NegativeSpan, h.NegativeDelta = s.spans(neg, schema)
	out.Histogram = h
	out.Label = s.labels
	return nil
}

type bucketCount struct {
	key   int
	count uint64
}

// spans reduces buckets (at the initial schema, in any order) to schema
// and encodes them as client_golang does: spans of buckets in which gaps
// of one or two empty buckets are filled with zeros, counts as deltas.
func (s *loopSeries) spans(bs []bucketCount, schema int32) ([]*dto.BucketSpan, []int64) {
	if len(bs) == 0 {
		return nil, nil
	}
	slices.SortFunc(bs, func(a, b bucketCount) int { return a.key - b.key })
	merged := bs[:0]
	for _, b := range bs {
		b.key = s.reduce(b.key, schema)
		if n := len(merged); n > 0 && merged[n-1].key == b.key {
			merged[n-1].count += b.count
			continue
		}
		merged = append(merged, b)
	}
	var (
		spans  []*dto.BucketSpan
		deltas []int64
		prev   int64
		next   int
	)
	appendDelta := func(c int64) {
		*spans[len(spans)-1].Length++
		deltas = append(deltas, c-prev)
		prev = c
	}
	for n, b := range merged {
		gap := int32(b.key - next)
		if n == 0 || gap > 2 {
			spans = append(spans, &dto.BucketSpan{Offset: proto.Int32(gap), Length: proto.Uint32(0)})
		} else {
			for range gap {
				appendDelta(0)
			}
		}
		appendDelta(int64(b.count))
		next = b.key + 1
	}
	return spans, deltas
}

// LoopObserver records observations of one series into counts of its own.
// One goroutine at a time may observe on it (an event loop, or the holder
// of a shared observer's mutex); a scrape on any goroutine reads it.
type LoopObserver struct {
	s *loopSeries
	v *LoopHistogramVec
	// seen is the series state this observer's counts were last made
	// under; an observation that finds the state changed (a reset, the
	// bucket limit) takes the slow path. Owner only.
	seen uint64

	sum    atomic.Uint64   // float64 bits
	counts []atomic.Uint64 // by slot (LoopHistogramVec.slots)
	// mu guards gen, the generation of the counts (changed with the
	// counts cleared), and far, the counts outside the slots. The owner
	// holds it while it changes them; a scrape holds it while it reads.
	mu  sync.Mutex
	gen uint64
	far map[farKey]uint64
}

var _ prometheus.ExemplarObserver = (*LoopObserver)(nil)

// Observe records v. It neither allocates nor blocks, unless v is negative,
// infinite, NaN, under about 2^-32 or over 2^8 (those are counted in a
// map under a mutex), populates a native bucket for the first time (the
// bucket limit counts them), or the series was reset or is over its
// bucket limit.
func (o *LoopObserver) Observe(v float64) { o.ObserveN(v, 1) }

// ObserveN records n observations of v, as n calls of Observe do, at the
// cost of one.
func (o *LoopObserver) ObserveN(v float64, n uint64) {
	if o.s.state.Load() == o.seen {
		if i := o.v.slot(v); i >= 0 {
			c := o.counts[i].Load()
			o.counts[i].Store(c + n)
			o.addSum(v, n)
			if c == 0 && i > len(o.v.upper) {
				o.afterCreated(v, n, nativeKey{key: o.v.slotKey[i-len(o.v.upper)-1]})
			}
			return
		}
	}
	o.observeSlow(v, n)
}

// addSum adds v to the sum n times, one addition after the other as n
// observations do.
func (o *LoopObserver) addSum(v float64, n uint64) {
	sum := math.Float64frombits(o.sum.Load())
	for range n {
		sum += v
	}
	o.sum.Store(math.Float64bits(sum))
}

// afterCreated tells the series that a native bucket was populated by
// this observer for the first time, and records the observations again
// after a reset it caused.
func (o *LoopObserver) afterCreated(v float64, n uint64, k nativeKey) {
	if o.s.created(o.seen>>1, k) {
		o.observeSlow(v, n)
	}
}

// ObserveWithExemplar records v and offers it, with the exemplar labels
// e, to the series' exemplars (client_golang's exemplar rules; allocates).
func (o *LoopObserver) ObserveWithExemplar(v float64, e prometheus.Labels) {
	o.Observe(v)
	o.s.ex.ObserveWithExemplar(v, e)
}

// observeSlow records v n times under o.mu: values outside the slots, and
// every observation after a reset or while over the bucket limit.
func (o *LoopObserver) observeSlow(v float64, n uint64) {
	st := o.s.state.Load()
	gen := st >> 1
	var (
		created bool
		k       nativeKey
	)
	native := !math.IsNaN(v)
	o.mu.Lock()
	if o.gen != gen {
		o.clear(gen)
	}
	o.seen = gen << 1
	if i := o.v.slot(v); i >= 0 {
		c := o.counts[i].Load()
		o.counts[i].Store(c + n)
		if c == 0 && i > len(o.v.upper) {
			created, k = true, nativeKey{key: o.v.slotKey[i-len(o.v.upper)-1]}
		}
	} else {
		fk := o.v.farKey(v)
		c := o.far[fk]
		o.far[fk] = c + n
		if c == 0 && native {
			created, k = true, nativeKey{key: fk.key, neg: fk.kind == farNegative}
		}
	}
	o.addSum(v, n)
	o.mu.Unlock()
	switch {
	case created:
		if o.s.created(gen, k) {
			o.observeSlow(v, n)
		}
	case native && st&1 != 0:
		if o.s.limit(gen) {
			o.observeSlow(v, n)
		}
	}
}

// clear zeroes the counts for a new generation. The owner calls it with
// o.mu held.
func (o *LoopObserver) clear(gen uint64) {
	o.sum.Store(0)
	for i := range o.counts {
		o.counts[i].Store(0)
	}
	clear(o.far)
	o.gen = gen
}

// observerSnapshot is one observer's counts.
type observerSnapshot struct {
	sum    float64
	counts []uint64
	far    map[farKey]uint64
}

// snapshot copies o's counts into snap if they are of generation gen.
func (o *LoopObserver) snapshot(snap *observerSnapshot, gen uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gen != gen {
		return false
	}
	for i := range o.counts {
		snap.counts[i] = o.counts[i].Load()
	}
	snap.sum = math.Float64frombits(o.sum.Load())
	clear(snap.far)
	for k, c := range o.far {
		snap.far[k] = c
	}
	return true
}

// sharedObserver makes a LoopObserver safe for concurrent use with a
// mutex. It is also its series' prometheus.Metric: Write gives the merged
// counts of every observer of the series.
type sharedObserver struct {
	mu sync.Mutex
	o  *LoopObserver
}

var _ prometheus.Metric = (*sharedObserver)(nil)

func (s *sharedObserver) Desc() *prometheus.Desc { return s.o.s.Desc() }

func (s *sharedObserver) Write(out *dto.Metric) error { return s.o.s.Write(out) }

func (s *sharedObserver) Observe(v float64) {
	s.mu.Lock()
	s.o.Observe(v)
	s.mu.Unlock()
}

func (s *sharedObserver) ObserveWithExemplar(v float64, e prometheus.Labels) {
	s.mu.Lock()
	s.o.ObserveWithExemplar(v, e)
	s.mu.Unlock()
}
