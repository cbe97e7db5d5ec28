package loadtest

import (
	"strings"
	"testing"
	"time"
)

// resultWith returns a result whose latencies are the given milliseconds.
func resultWith(ms []int, failures, requests int64, rps float64) *Result {
	h := newHistogram()
	for _, v := range ms {
		_ = h.RecordValue(int64(v) * 1000)
	}
	res := &Result{Failures: failures, Requests: requests, Throughput: rps, hist: h}
	if h.TotalCount() > 0 {
		res.Latency.Max = usToMs(h.Max())
		res.Latency.Mean = h.Mean() / 1000
	}
	return res
}

func TestSLO(t *testing.T) {
	// 100 latencies: 1..100 ms, so p95 is 95 ms and max 100 ms.
	var ms []int
	for i := 1; i <= 100; i++ {
		ms = append(ms, i)
	}
	tests := []struct {
		slo      string
		res      *Result
		wantPass bool
	}{
		{"p95<150ms,failures=0", resultWith(ms, 0, 100, 0), true},
		{"p95<95ms,failures=0", resultWith(ms, 0, 100, 0), false},
		{"p95<=95.1ms", resultWith(ms, 0, 100, 0), true}, // HdrHistogram reports the bucket top, 95.04
		{"p95<150ms,failures=0", resultWith(ms, 1, 100, 0), false},
		{"p99.9 < 0.2s, max<101", resultWith(ms, 0, 100, 0), true},
		{"max<100ms", resultWith(ms, 0, 100, 0), false},
		{"failure_rate<1%", resultWith(ms, 1, 1000, 0), true},
		{"failure_rate<0.1%", resultWith(ms, 1, 1000, 0), false},
		{"errors<=2", resultWith(ms, 2, 100, 0), true},
		{"rps>=50000", resultWith(ms, 0, 100, 60000), true},
		{"throughput>50000", resultWith(ms, 0, 100, 40000), false},
		{"mean<60ms", resultWith(ms, 0, 100, 0), true},
		{"p95<150ms", resultWith(nil, 0, 0, 0), false}, // nothing measured
	}
	for _, tc := range tests {
		t.Run(tc.slo, func(t *testing.T) {
			slo, err := ParseSLO(tc.slo)
			if err != nil {
				t.Fatalf("ParseSLO: %v", err)
			}
			v := slo.Evaluate(tc.res)
			if v.Pass != tc.wantPass {
				t.Fatalf("pass = %v, want %v\n%s", v.Pass, tc.wantPass, v)
			}
			if len(v.Checks) != len(slo) {
				t.Fatalf("%d checks for %d objectives", len(v.Checks), len(slo))
			}
			want := "verdict     PASS"
			if !tc.wantPass {
				want = "verdict     FAIL"
			}
			if !strings.HasSuffix(v.String(), want) {
				t.Fatalf("String() = %q, want suffix %q", v.String(), want)
			}
		})
	}
}

func TestParseSLOErrors(t *testing.T) {
	for _, s := range []string{"", "p95", "p95<", "p95<fast", "p101<1s", "latency<1s", "failures=-1", "failures=x", "failure_rate<x%", "<5"} {
		t.Run(s, func(t *testing.T) {
			if _, err := ParseSLO(s); err == nil {
				t.Fatalf("ParseSLO(%q) accepted", s)
			}
		})
	}
}

func TestParseSLOValues(t *testing.T) {
	slo, err := ParseSLO("p95<150ms, p99<=1.5s, failures==0, max<250")
	if err != nil {
		t.Fatal(err)
	}
	want := []Objective{
		{Metric: "p95", Op: "<", Value: 150},
		{Metric: "p99", Op: "<=", Value: float64(1500 * time.Millisecond / time.Millisecond)},
		{Metric: "failures", Op: "=", Value: 0},
		{Metric: "max", Op: "<", Value: 250},
	}
	for i, w := range want {
		g := slo[i]
		if g.Metric != w.Metric || g.Op != w.Op || g.Value != w.Value {
			t.Errorf("objective %d = %+v, want %+v", i, g, w)
		}
	}
}
