package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// countingGauge is a gauge of a whole count that also keeps its value in
// an atomic, so that other collectors can be derived from it (a
// prometheus.Gauge cannot be read back cheaply). Fractional changes are
// truncated: use it only for counts. It is safe for concurrent use.
type countingGauge struct {
	prometheus.Gauge
	n atomic.Int64
}

var _ prometheus.Gauge = (*countingGauge)(nil)

func newCountingGauge(opts prometheus.GaugeOpts) *countingGauge {
	return &countingGauge{Gauge: prometheus.NewGauge(opts)}
}

func (g *countingGauge) Set(v float64) { g.n.Store(int64(v)); g.Gauge.Set(v) }
func (g *countingGauge) Inc()          { g.n.Add(1); g.Gauge.Inc() }
func (g *countingGauge) Dec()          { g.n.Add(-1); g.Gauge.Dec() }
func (g *countingGauge) Add(v float64) { g.n.Add(int64(v)); g.Gauge.Add(v) }
func (g *countingGauge) Sub(v float64) { g.n.Add(-int64(v)); g.Gauge.Sub(v) }
