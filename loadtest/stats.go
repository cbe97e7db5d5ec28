package loadtest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Failure reasons other than an HTTP status.
const (
	ReasonTimeout   = "timeout"
	ReasonConnError = "connection_error"
	ReasonMalformed = "malformed_response"
	ReasonBadBody   = "bad_body"
)

// statShards is the number of independently locked histogram shards;
// workers pick one by their index so that recording rarely contends.
const statShards = 16

// maxSamples bounds the distinct failure examples kept for the report.
const maxSamples = 10

// newHistogram returns a histogram of latencies in microseconds.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxTrackable.Microseconds(), 3)
}

// shard is one locked pair of histograms.
type shard struct {
	mu       sync.Mutex
	total    *hdrhistogram.Histogram
	interval *hdrhistogram.Histogram
	ok200    *hdrhistogram.Histogram // responses with status 200 only
	_        [64]byte                // keep shards on separate cache lines
}

// stats collects the outcome of a run. Its methods are safe for concurrent
// use.
type stats struct {
	start  time.Time
	warmup time.Time // completions before this are not counted

	shards [statShards]shard

	ok, warmupDone, retries  atomic.Int64
	byStatus                 [600]atomic.Int64 // failed responses by status code
	timeouts, connErrs       atomic.Int64
	malformed, badBodies     atomic.Int64
	samplesMu                sync.Mutex
	samples                  []string // distinct failure descriptions
	sampleCounts             []int64
	intervalOK, intervalFail atomic.Int64
	itemsOK                  atomic.Int64 // batch workload: items that passed the check
}

func newStats(start time.Time, warmup time.Duration) *stats {
	s := &stats{start: start, warmup: start.Add(warmup)}
	for i := range s.shards {
		s.shards[i].total = newHistogram()
		s.shards[i].interval = newHistogram()
		s.shards[i].ok200 = newHistogram()
	}
	return s
}

// counted reports whether a completion at now falls after the warm-up.
func (s *stats) counted(now time.Time) bool {
	if now.Before(s.warmup) {
		s.warmupDone.Add(1)
		return false
	}
	return true
}

// recordLatency records the latency of a complete response; ok says its
// status is 200 (it also goes into the histogram of accepted responses).
func (s *stats) recordLatency(worker int, d time.Duration, ok bool) {
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	if top := maxTrackable.Microseconds(); us > top {
		us = top
	}
	sh := &s.shards[worker%statShards]
	sh.mu.Lock()
	// Errors are impossible: us is within the trackable range.
	_ = sh.total.RecordValue(us)
	_ = sh.interval.RecordValue(us)
	if ok {
		_ = sh.ok200.RecordValue(us)
	}
	sh.mu.Unlock()
}

func (s *stats) success() {
	s.ok.Add(1)
	s.intervalOK.Add(1)
}

// failure counts a failed request. reason is a Reason* constant or "" for
// a failing status; detail, when not empty, may be kept as an example.
func (s *stats) failure(status int, reason string, detail func() string) {
	switch reason {
	case ReasonTimeout:
		s.timeouts.Add(1)
	case ReasonConnError:
		s.connErrs.Add(1)
	case ReasonMalformed:
		s.malformed.Add(1)
	case ReasonBadBody:
		s.badBodies.Add(1)
	default:
		if status < 0 || status >= len(s.byStatus) {
			status = 0
		}
		s.byStatus[status].Add(1)
	}
	s.intervalFail.Add(1)
	if detail != nil {
		d := detail()
		s.samplesMu.Lock()
		if i := slices.Index(s.samples, d); i >= 0 {
			s.sampleCounts[i]++
		} else if len(s.samples) < maxSamples {
			s.samples = append(s.samples, d)
			s.sampleCounts = append(s.sampleCounts, 1)
		}
		s.samplesMu.Unlock()
	}
}

// failureSamples returns the distinct failure descriptions kept, each
// with the number of times it was seen.
func (s *stats) failureSamples() []string {
	s.samplesMu.Lock()
	defer s.samplesMu.Unlock()
	out := make([]string, len(s.samples))
	for i, d := range s.samples {
		out[i] = fmt.Sprintf("%s (x%d)", d, s.sampleCounts[i])
	}
	return out
}

// failures returns the failure counts by reason. HTTP statuses are keyed
// "status_NNN".
func (s *stats) failures() (map[string]int64, int64) {
	m := make(map[string]int64)
	var total int64
	add := func(k string, v int64) {
		if v > 0 {
			m[k] = v
			total += v
		}
	}
	add(ReasonTimeout, s.timeouts.Load())
	add(ReasonConnError, s.connErrs.Load())
	add(ReasonMalformed, s.malformed.Load())
	add(ReasonBadBody, s.badBodies.Load())
	for code := range s.byStatus {
		if v := s.byStatus[code].Load(); v > 0 {
			add(fmt.Sprintf("status_%03d", code), v)
		}
	}
	return m, total
}

// merged returns the merge of the total histograms.
func (s *stats) merged() *hdrhistogram.Histogram {
	return s.merge(func(sh *shard) *hdrhistogram.Histogram { return sh.total })
}

// merged200 returns the merge of the histograms of 200 responses.
func (s *stats) merged200() *hdrhistogram.Histogram {
	return s.merge(func(sh *shard) *hdrhistogram.Histogram { return sh.ok200 })
}

func (s *stats) merge(of func(*shard) *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	h := newHistogram()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.Merge(of(sh))
		sh.mu.Unlock()
	}
	return h
}

// takeInterval merges the interval histograms into into (after resetting
// it), resets them, and returns the interval's success and failure counts.
func (s *stats) takeInterval(into *hdrhistogram.Histogram) (ok, fail int64) {
	into.Reset()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		into.Merge(sh.interval)
		sh.interval.Reset()
		sh.mu.Unlock()
	}
	return s.intervalOK.Swap(0), s.intervalFail.Swap(0)
}
