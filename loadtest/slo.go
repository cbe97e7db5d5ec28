package loadtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Objective is one term of an SLO, such as "p95<150ms".
type Objective struct {
	// Metric is "pNN" (a latency percentile, e.g. p95 or p99.9), "max",
	// "mean", "failures" (a count), "failure_rate" (percent) or "rps".
	Metric string `json:"metric"`
	// Op is one of <, <=, =, >=, >.
	Op string `json:"op"`
	// Value is the bound: milliseconds for latencies, a count, a percentage
	// or requests per second.
	Value float64 `json:"value"`
	// Text is the term as written.
	Text string `json:"text"`

	percentile float64 // for pNN
}

// SLO is a conjunction of objectives.
type SLO []Objective

// ParseSLO parses a comma-separated list of objectives, e.g.
// "p95<150ms,failures=0", "p99.9<=1s,max<2s", "failure_rate<0.1%",
// "rps>=50000". Latency bounds take a Go duration ("150ms", "1.5s") or a
// bare number of milliseconds.
func ParseSLO(s string) (SLO, error) {
	var slo SLO
	for term := range strings.SplitSeq(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		o, err := parseObjective(term)
		if err != nil {
			return nil, fmt.Errorf("cannot parse SLO term %q: %w", truncate(term), err)
		}
		slo = append(slo, o)
	}
	if len(slo) == 0 {
		return nil, fmt.Errorf("cannot parse SLO %q: no objective", truncate(s))
	}
	return slo, nil
}

func parseObjective(term string) (Objective, error) {
	i := strings.IndexAny(term, "<>=")
	if i <= 0 {
		return Objective{}, fmt.Errorf("want METRIC OP VALUE with OP one of < <= = >= >")
	}
	metric := strings.ToLower(strings.TrimSpace(term[:i]))
	rest := term[i:]
	op := rest[:1]
	if len(rest) > 1 && rest[1] == '=' {
		op = rest[:2]
	}
	if op == "==" {
		op = "="
	}
	val := strings.TrimSpace(rest[len(op):])
	if strings.HasPrefix(rest, "==") {
		val = strings.TrimSpace(rest[2:])
	}
	o := Objective{Metric: metric, Op: op, Text: term}
	switch {
	case metric == "max" || metric == "mean" || strings.HasPrefix(metric, "p"):
		if strings.HasPrefix(metric, "p") {
			p, err := strconv.ParseFloat(metric[1:], 64)
			if err != nil || p < 0 || p > 100 {
				return Objective{}, fmt.Errorf("unknown metric %q", metric)
			}
			o.percentile = p
		}
		ms, err := parseMillis(val)
		if err != nil {
			return Objective{}, err
		}
		o.Value = ms
	case metric == "failures" || metric == "errors":
		o.Metric = "failures"
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return Objective{}, fmt.Errorf("bad failure count %q", val)
		}
		o.Value = float64(n)
	case metric == "failure_rate" || metric == "error_rate":
		o.Metric = "failure_rate"
		f, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err != nil || f < 0 {
			return Objective{}, fmt.Errorf("bad percentage %q", val)
		}
		o.Value = f
	case metric == "rps" || metric == "throughput":
		o.Metric = "rps"
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f < 0 {
			return Objective{}, fmt.Errorf("bad rate %q", val)
		}
		o.Value = f
	default:
		return Objective{}, fmt.Errorf("unknown metric %q", metric)
	}
	return o, nil
}

// parseMillis parses a Go duration or a bare number of milliseconds.
func parseMillis(v string) (float64, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return f, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return float64(d) / float64(time.Millisecond), nil
}

// Check is the outcome of one objective.
type Check struct {
	Objective string  `json:"objective"`
	Actual    float64 `json:"actual"`
	Unit      string  `json:"unit"`
	Pass      bool    `json:"pass"`
}

// Verdict is the outcome of an SLO.
type Verdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
}

// Evaluate judges res against the SLO. A run that measured no response
// fails every latency objective.
func (s SLO) Evaluate(res *Result) *Verdict {
	v := &Verdict{Pass: true}
	for _, o := range s {
		var actual float64
		unit := "ms"
		measured := true
		switch o.Metric {
		case "failures":
			actual, unit = float64(res.Failures), ""
		case "failure_rate":
			unit = "%"
			if res.Requests > 0 {
				actual = 100 * float64(res.Failures) / float64(res.Requests)
			}
		case "rps":
			actual, unit = res.Throughput, "req/s"
		case "max":
			actual, measured = res.Latency.Max, res.hist != nil && res.hist.TotalCount() > 0
		case "mean":
			actual, measured = res.Latency.Mean, res.hist != nil && res.hist.TotalCount() > 0
		default:
			actual, measured = res.Percentile(o.percentile), res.hist != nil && res.hist.TotalCount() > 0
		}
		pass := measured && compare(actual, o.Op, o.Value)
		v.Checks = append(v.Checks, Check{Objective: o.Text, Actual: actual, Unit: unit, Pass: pass})
		v.Pass = v.Pass && pass
	}
	return v
}

func compare(a float64, op string, b float64) bool {
	switch op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case "=":
		return a == b
	case ">=":
		return a >= b
	case ">":
		return a > b
	}
	return false
}

// String renders the verdict as a few lines, ending with PASS or FAIL.
func (v *Verdict) String() string {
	var b strings.Builder
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "slo %s %-24s actual %.4g%s\n", mark, c.Objective, c.Actual, c.Unit)
	}
	if v.Pass {
		b.WriteString("verdict     PASS")
	} else {
		b.WriteString("verdict     FAIL")
	}
	return b.String()
}
