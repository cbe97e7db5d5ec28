package pricing

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/rules"
)

// omnibusReply is what these tests read of a reply.
type omnibusReply struct {
	List        json.Number `json:"list_price"`
	Final       json.Number `json:"final_price"`
	Prior       json.Number `json:"prior_price"`
	PriorSince  string      `json:"prior_price_since"`
	Explanation []struct {
		Factor   string      `json:"factor"`
		Value    json.Number `json:"value"`
		Recorded *bool       `json:"recorded"`
		Day      string      `json:"day"`
		Start    string      `json:"reduction_start"`
		Window   int         `json:"window_days"`
	} `json:"explanation"`
}

// omnibusEngine is an engine over the memory source with rules src and a
// history of its own.
func omnibusEngine(t *testing.T, src string) (*Engine, *history.Merger) {
	t.Helper()
	rs := parseRules(t, src)
	h := history.NewMerger(history.MergerConfig{})
	return NewEngine(memorySource(t), Config{Rules: func() *rules.Ruleset { return rs }, History: h}), h
}

// priceAt prices r as a request that arrived at when (recorded through
// the merger, merged at once) and decodes the reply.
func priceAt(t *testing.T, e *Engine, h *history.Merger, r *Request, when time.Time) omnibusReply {
	t.Helper()
	var x Exchange
	x.Req = *r
	x.Req.Explain = true
	if !e.begin(&x, e.src.NewBatcher(), when) {
		t.Fatal("memory source did not answer at once")
	}
	if x.Status != 200 {
		t.Fatalf("status %d: %s", x.Status, x.Body)
	}
	h.Merge(context.Background(), when)
	var rep omnibusReply
	if err := json.Unmarshal(x.Body, &rep); err != nil {
		t.Fatalf("%v: %s", err, x.Body)
	}
	return rep
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// priorFactor returns the explanation's prior_price factor.
func priorFactor(t *testing.T, rep omnibusReply) (recorded bool, day, start string, window int) {
	t.Helper()
	for _, f := range rep.Explanation {
		if f.Factor == "prior_price" {
			if f.Recorded == nil {
				t.Fatal("prior_price factor without recorded")
			}
			return *f.Recorded, f.Day, f.Start, f.Window
		}
	}
	t.Fatalf("no prior_price factor in %+v", rep.Explanation)
	return
}

// TestPriorPriceProgressive: 2026-12-07 is a Monday. P-1 x NY lists at
// 50.99 x 1.1 = 56.089. Monday and Tuesday take 10 % off, Wednesday 20 %,
// both announced: Wednesday's reduction follows Tuesday's without a gap
// and keeps Monday's prior price, although Monday's and Tuesday's lower
// prices were recorded since.
func TestPriorPriceProgressive(t *testing.T) {
	e, h := omnibusEngine(t, `version: "o1"
schedules:
  - {name: early-week, days: [mon, tue], products: ["P-1"], multiplier: 0.9, announce: true}
  - {name: midweek, days: [wed], products: ["P-1"], multiplier: 0.8, announce: true}
  - {name: thursday, days: [thu], products: ["P-1"], multiplier: 0.5}
`)
	r := request("P-1", "NY", false)
	// No reduction yet: no prior price.
	rep := priceAt(t, e, h, r, utc(t, "2026-11-20T10:00:00Z"))
	if rep.Prior != "" || rep.List != "56.089" {
		t.Fatalf("before the reduction: %+v", rep)
	}
	// A price of a day outside the window (31 days before Monday).
	priceAt(t, e, h, request("P-1", "NY", false), utc(t, "2026-11-05T10:00:00Z"))

	mon := priceAt(t, e, h, r, utc(t, "2026-12-07T10:00:00Z"))
	// The history starts on 2026-11-05, before the window: it covers it.
	if mon.List != "50.4801" || mon.Prior != "56.089" || mon.PriorSince != "" {
		t.Errorf("Monday: list %s prior %s since %q, want 50.4801, 56.089 (covered)", mon.List, mon.Prior, mon.PriorSince)
	}
	if rec, day, start, w := priorFactor(t, mon); !rec || day != "2026-11-20" || start != "2026-12-07T00:00:00Z" || w != 30 {
		t.Errorf("Monday's explanation: recorded %v day %s start %s window %d", rec, day, start, w)
	}
	tue := priceAt(t, e, h, r, utc(t, "2026-12-08T10:00:00Z"))
	if tue.Prior != "56.089" {
		t.Errorf("Tuesday: prior %s, want Monday's 56.089", tue.Prior)
	}
	wed := priceAt(t, e, h, r, utc(t, "2026-12-09T10:00:00Z"))
	if wed.List != "44.8712" || wed.Prior != "56.089" {
		t.Errorf("Wednesday: list %s prior %s, want 44.8712 and the first step's 56.089", wed.List, wed.Prior)
	}
	if _, _, start, _ := priorFactor(t, wed); start != "2026-12-07T00:00:00Z" {
		t.Errorf("Wednesday's reduction starts %s, want Monday's start", start)
	}
	// Thursday's schedule is not announced: no prior price.
	if thu := priceAt(t, e, h, r, utc(t, "2026-12-10T10:00:00Z")); thu.Prior != "" {
		t.Errorf("Thursday (not announced): prior %s", thu.Prior)
	}
	// The next Monday: a new reduction, after a gap (Thursday to Sunday);
	// the window of the 30 days before it holds the reduced prices of the
	// week before, and Thursday's 50 %.
	next := priceAt(t, e, h, r, utc(t, "2026-12-14T10:00:00Z"))
	if next.Prior != "28.0445" {
		t.Errorf("next Monday: prior %s, want Thursday's 28.0445", next.Prior)
	}
}

// TestPriorPriceAnchoredAtStart: a reduction that started yesterday at
// 18:00 does not count today's lower prices nor its own; the prices of
// its first day before 18:00 count.
func TestPriorPriceAnchoredAtStart(t *testing.T) {
	e, h := omnibusEngine(t, `version: "o2"
schedules:
  - {name: flash, days: [mon], from: "18:00", to: "10:00", products: ["P-2"], multiplier: 0.9, announce: true}
  - {name: lower, days: [tue], from: "10:00", to: "12:00", products: ["P-2"], multiplier: 0.5}
`)
	r := request("P-2", "SF", false) // 51.99 x 1.15 = 59.7885
	priceAt(t, e, h, r, utc(t, "2026-11-10T12:00:00Z"))
	priceAt(t, e, h, r, utc(t, "2026-12-07T12:00:00Z")) // Monday before the start
	// Monday 19:00 and Tuesday 09:00: reduced (53.80965).
	priceAt(t, e, h, r, utc(t, "2026-12-07T19:00:00Z"))
	got := priceAt(t, e, h, r, utc(t, "2026-12-08T09:00:00Z"))
	// The window begins 2026-11-07 18:00; the history on 2026-11-10.
	if got.Prior != "59.7885" || got.PriorSince != "2026-11-10T00:00:00Z" {
		t.Errorf("Tuesday 09:00: prior %s since %q, want 59.7885 since 2026-11-10", got.Prior, got.PriorSince)
	}
	if _, day, start, _ := priorFactor(t, got); day != "2026-12-07" || start != "2026-12-07T18:00:00Z" {
		t.Errorf("explanation: day %s start %s, want Monday's and 18:00", day, start)
	}
	// Tuesday 11:00 (not announced, 50 % off) records a lower price; the
	// next Monday's reduction counts it, this one did not.
	priceAt(t, e, h, r, utc(t, "2026-12-08T11:00:00Z"))
	if got := priceAt(t, e, h, r, utc(t, "2026-12-14T19:00:00Z")); got.Prior != "29.89425" {
		t.Errorf("next Monday: prior %s, want Tuesday's 29.89425", got.Prior)
	}
}

// TestPriorPriceNothingRecorded: with no history before the start, the
// prior price is the list price without the reduction, and
// prior_price_since is the reduction's start.
func TestPriorPriceNothingRecorded(t *testing.T) {
	e, h := omnibusEngine(t, `version: "o3"
schedules:
  - {name: sale, from: "08:00", to: "20:00", products: ["P-3"], multiplier: 0.75, announce: true}
guards: {floor: 0.8}
ending: "0.99"
`)
	// 52.99 x 1.1 = 58.289; x 0.75 = 43.71675, floored at 42.392 -> 42.99.
	got := priceAt(t, e, h, request("P-3", "NY", false), utc(t, "2026-12-07T09:00:00Z"))
	if got.List != "42.99" || got.Prior != "57.99" || got.PriorSince != "2026-12-07T08:00:00Z" {
		t.Errorf("list %s prior %s since %q, want 42.99, 57.99 since 08:00", got.List, got.Prior, got.PriorSince)
	}
	if rec, day, _, _ := priorFactor(t, got); rec || day != "" {
		t.Errorf("explanation says recorded %v on %q", rec, day)
	}
}

// TestPriorPriceMemberPrices: member discounts count as prices applied
// only with omnibus.member_prices.
func TestPriorPriceMemberPrices(t *testing.T) {
	const rulesFmt = `version: "o4"
member_discount: 0.10
omnibus: {window: 14d, member_prices: %s}
schedules:
  - {name: sale, days: [mon], products: ["P-4"], multiplier: 0.9, announce: true}
`
	for _, tc := range []struct {
		on    string
		prior string
	}{
		{"false", "59.389"}, // 53.99 x 1.1: the list price members were charged from
		{"true", "53.45"},   // round(59.389 x 0.90, 2): what a member paid
	} {
		t.Run("member_prices="+tc.on, func(t *testing.T) {
			e, h := omnibusEngine(t, fmt.Sprintf(rulesFmt, tc.on))
			priceAt(t, e, h, request("P-4", "NY", true), utc(t, "2026-12-01T10:00:00Z"))
			priceAt(t, e, h, request("P-4", "NY", false), utc(t, "2026-12-02T10:00:00Z"))
			got := priceAt(t, e, h, request("P-4", "NY", false), utc(t, "2026-12-07T10:00:00Z"))
			if got.Prior != json.Number(tc.prior) {
				t.Errorf("prior %s, want %s", got.Prior, tc.prior)
			}
			if _, _, _, w := priorFactor(t, got); w != 14 {
				t.Errorf("window %d days, want 14", w)
			}
		})
	}
}

// TestOmnibusNoAllocs: on a loop, recording every price and answering the
// prior price of an announced reduction allocate nothing per request.
func TestOmnibusNoAllocs(t *testing.T) {
	e, h := omnibusEngine(t, `version: "o5"
schedules:
  - {name: sale, days: [mon], products: ["P-1*"], multiplier: 0.9, announce: true}
`)
	now := utc(t, "2026-12-07T10:00:00Z")
	priceAt(t, e, h, request("P-10", "NY", false), now.AddDate(0, 0, -3))
	l := e.NewLoop().(*Loop)
	x := e.NewExchange(nil).(*Exchange)
	for _, tc := range []struct {
		body  string
		prior bool
	}{{`{"product_id":"P-10","user_location":"NY"}`, true}, {`{"product_id":"P-20","user_location":"NY"}`, false}} {
		body, b := tc.body, []byte(tc.body)
		allocs := testing.AllocsPerRun(200, func() {
			if !l.Serve(x, b, now) || x.Status != 200 {
				t.Fatalf("not priced: %s", x.Body)
			}
		})
		if allocs != 0 {
			t.Errorf("%s allocates %.1f times per request", body, allocs)
		}
		if tc.prior != !x.Quote.Prior.IsZero() {
			t.Errorf("%s: prior price %s, want one: %v", body, x.Quote.Prior, tc.prior)
		}
	}
}
