package rules

import (
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// TestReductionStart: Result.Start is the start of the occurrence of the
// announced schedule that applies, or of the first of the announced
// reductions that followed each other without a gap.
func TestReductionStart(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(`version: "r1"
schedules:
  - {name: evening, days: [fri], from: "18:00", to: "02:00", tz: Europe/Berlin, products: ["E-*"], multiplier: 0.9, announce: true}
  - {name: weekend, days: [sat, sun], tz: Europe/Berlin, products: ["W-*"], multiplier: 0.9, announce: true}
  - {name: step-1, days: [mon], products: ["S-*"], multiplier: 0.9, announce: true}
  - {name: step-2, days: [tue], from: "00:00", to: "12:00", products: ["S-*"], multiplier: 0.8, announce: true}
  - {name: step-3, days: [tue], from: "12:00", to: "24:00", products: ["S-1"], multiplier: 0.7, announce: true}
  - {name: quiet, days: [wed], products: ["S-*"], multiplier: 0.95}
  - {name: after-quiet, days: [thu], products: ["S-*"], multiplier: 0.9, announce: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Omnibus.Window != 30*24*time.Hour || rs.Omnibus.MemberPrices {
		t.Errorf("omnibus defaults: %+v", rs.Omnibus)
	}
	for _, tc := range []struct {
		product, now, start string // start "": no reduction
	}{
		// Friday 2026-12-11 18:00 Berlin is 17:00 UTC; the occurrence
		// spans midnight.
		{"E-1", "2026-12-11T17:30:00Z", "2026-12-11T17:00:00Z"},
		{"E-1", "2026-12-12T00:30:00Z", "2026-12-11T17:00:00Z"},
		{"E-1", "2026-12-12T01:30:00Z", ""},
		// Saturday and Sunday whole days follow each other: Sunday's
		// occurrence is part of the run that began Saturday 00:00 Berlin.
		{"W-1", "2026-12-13T15:00:00Z", "2026-12-11T23:00:00Z"},
		{"W-1", "2026-12-12T00:00:00Z", "2026-12-11T23:00:00Z"},
		// Progressive: Monday (whole day), then Tuesday morning, then for
		// S-1 only Tuesday afternoon; all keep Monday's start.
		{"S-1", "2026-12-07T10:00:00Z", "2026-12-07T00:00:00Z"},
		{"S-1", "2026-12-08T11:00:00Z", "2026-12-07T00:00:00Z"},
		{"S-1", "2026-12-08T13:00:00Z", "2026-12-07T00:00:00Z"},
		{"S-2", "2026-12-08T13:00:00Z", ""},
		// A reduction after a non-announced schedule starts afresh.
		{"S-1", "2026-12-10T13:00:00Z", "2026-12-10T00:00:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		var res Result
		in := Input{Product: []byte(tc.product), Location: []byte("NY"), Base: money.New(100, 0), Market: money.New(1, 0), Now: now}
		for round := 0; round < 2; round++ { // the second answer comes from the memo
			if err := Price(rs, &in, &res); err != nil {
				t.Fatal(err)
			}
			if tc.start == "" {
				if res.Reduction {
					t.Errorf("%s at %s: a reduction starting %s", tc.product, tc.now, res.Start)
				}
				continue
			}
			if !res.Reduction || res.Start.UTC().Format(time.RFC3339) != tc.start {
				t.Errorf("%s at %s (round %d): reduction %v from %s, want from %s", tc.product, tc.now, round, res.Reduction, res.Start.UTC().Format(time.RFC3339), tc.start)
			}
			if res.Regular.Cmp(money.New(100, 0)) != 0 {
				t.Errorf("%s at %s: regular %s, want 100", tc.product, tc.now, res.Regular)
			}
		}
	}
}

// TestReductionStartBounded: a run of announced whole days that never
// ends starts no more than MaxReductionRun ago.
func TestReductionStartBounded(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(`version: "r2"
schedules:
  - {name: a, days: [mon, tue, wed, thu], multiplier: 0.9, announce: true}
  - {name: b, days: [fri, sat, sun], multiplier: 0.8, announce: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var res Result
	in := Input{Product: []byte("P-1"), Base: money.New(10, 0), Market: money.New(1, 0), Now: now}
	if err := Price(rs, &in, &res); err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-MaxReductionRun); !res.Reduction || !res.Start.Equal(want) {
		t.Errorf("start %s, want %s", res.Start, want)
	}
	allocs := testing.AllocsPerRun(100, func() { _ = Price(rs, &in, &res) })
	if allocs != 0 {
		t.Errorf("Price with an announced reduction allocates %.1f times", allocs)
	}
}

// TestReductionStartSkippedHour: an occurrence that starts in the hour a
// zone skips (Europe/Berlin, 29 March 2026, 02:00 -> 03:00) never starts
// after now.
func TestReductionStartSkippedHour(t *testing.T) {
	rs, err := Parse("r.yaml", []byte(`version: "r3"
schedules:
  - {name: night, days: [sun], from: "02:30", to: "05:00", tz: Europe/Berlin, multiplier: 0.9, announce: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []string{"2026-03-29T01:10:00Z", "2026-03-29T02:50:00Z"} { // 03:10 and 04:50 local
		at, _ := time.Parse(time.RFC3339, now)
		var res Result
		in := Input{Product: []byte("P-1"), Base: money.New(10, 0), Market: money.New(1, 0), Now: at}
		if err := Price(rs, &in, &res); err != nil {
			t.Fatal(err)
		}
		if res.Reduction && res.Start.After(at) {
			t.Errorf("at %s the reduction starts later, %s", now, res.Start)
		}
	}
}
