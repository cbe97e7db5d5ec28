package loadtest

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// reporter samples the run every Config.ProgressInterval into a time
// series and, when Config.Progress is set, rewrites a progress line.
type reporter struct {
	r       *runner
	h       *hdrhistogram.Histogram
	last    time.Time
	series  []SeriesPoint
	printed bool
}

func newReporter(r *runner) *reporter {
	return &reporter{r: r, h: newHistogram(), last: r.start}
}

// loop samples until stop is closed.
func (rep *reporter) loop(stop <-chan struct{}) {
	t := time.NewTicker(rep.r.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			rep.sample(now)
		}
	}
}

// sample closes the interval ending at now.
func (rep *reporter) sample(now time.Time) {
	ok, fail := rep.r.st.takeInterval(rep.h)
	span := now.Sub(rep.last).Seconds()
	rep.last = now
	p := SeriesPoint{Seconds: now.Sub(rep.r.start).Seconds(), Failures: fail}
	if span > 0 {
		p.RPS = float64(ok+fail) / span
	}
	if rep.h.TotalCount() > 0 {
		p.P50 = usToMs(rep.h.ValueAtPercentile(50))
		p.P95 = usToMs(rep.h.ValueAtPercentile(95))
		p.P99 = usToMs(rep.h.ValueAtPercentile(99))
		p.Max = usToMs(rep.h.Max())
	}
	rep.series = append(rep.series, p)
	if w := rep.r.cfg.Progress; w != nil {
		_, failures := rep.r.st.failures()
		// Errors writing to a terminal are not worth stopping the run for.
		_, _ = fmt.Fprintf(w, "\r%7.1fs  rps %9.0f  p95 %9.2f ms  failures %-10d", p.Seconds, p.RPS, p.P95, failures)
		rep.printed = true
	}
}

// finish closes the last, partial interval and ends the progress line.
func (rep *reporter) finish(end time.Time) {
	if end.Sub(rep.last) > rep.r.cfg.ProgressInterval/10 {
		rep.sample(end)
	}
	if rep.printed {
		_, _ = fmt.Fprintln(rep.r.cfg.Progress)
	}
}
