package metrics

import "github.com/prometheus/client_golang/prometheus"

// statRow is one series of a statsCollector: its value (and, for a
// labelled series, its label values) read from a stats snapshot S.
type statRow[S any] struct {
	desc    *prometheus.Desc
	typ     prometheus.ValueType
	value   func(*S) float64
	labels  func(*S) []string // nil for a series without labels
	present func(*S) bool     // nil: always reported
}

// statsCollector reports rows read from one call of stats per scrape: the
// shape of the rules' and the store's collectors, whose owners keep their
// own counters and hand over a snapshot. It is safe for concurrent use
// when stats is.
type statsCollector[S any] struct {
	stats func() S
	rows  []statRow[S]
}

// Describe implements prometheus.Collector.
func (c *statsCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, r := range c.rows {
		ch <- r.desc
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector[S]) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, r := range c.rows {
		if r.present != nil && !r.present(&st) {
			continue
		}
		var lv []string
		if r.labels != nil {
			lv = r.labels(&st)
		}
		ch <- prometheus.MustNewConstMetric(r.desc, r.typ, r.value(&st), lv...)
	}
}

// counter and gauge build the rows of unlabelled series.
func counter[S any](name, help string, v func(*S) float64) statRow[S] {
	return statRow[S]{desc: prometheus.NewDesc(name, help, nil, nil), typ: prometheus.CounterValue, value: v}
}

func gauge[S any](name, help string, v func(*S) float64) statRow[S] {
	return statRow[S]{desc: prometheus.NewDesc(name, help, nil, nil), typ: prometheus.GaugeValue, value: v}
}

// bit is 1 for true, 0 for false.
func bit(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
