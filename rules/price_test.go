package rules

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

func example(t testing.TB) *Ruleset {
	t.Helper()
	rs, err := ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// seedFormula is the contract's price without rules, written out independently:
// round_half_even(base x market x (1 - 0.05 if member), 2).
func seedFormula(t testing.TB, base, market money.Decimal, member bool) money.Decimal {
	keep := money.New(1, 0)
	if member {
		keep = money.New(95, 2)
	}
	p, err := base.Mul(market)
	if err == nil {
		p, err = p.Mul(keep)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p.Round(2)
}

// TestPriceNoRulesIsSeedFormula: a nil ruleset is the seed formula
// exactly, for many bases and markets.
func TestPriceNoRulesIsSeedFormula(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var res Result
	for i := 0; i < 20000; i++ {
		base := money.New(r.Int64N(100000000)+1, uint8(r.IntN(3)))
		market := money.New(r.Int64N(1000)+1, uint8(r.IntN(3)))
		member := r.IntN(2) == 0
		in := Input{Product: []byte("P-1"), Location: []byte("NY"), Member: member, Base: base, Market: market}
		if err := Price(nil, &in, &res); err != nil {
			t.Fatal(err)
		}
		want := seedFormula(t, base, market, member)
		if res.Final.Cmp(want) != 0 || res.Final.Scale() > 2 {
			t.Fatalf("base %s market %s member %v: final %s, seed formula %s", base, market, member, res.Final, want)
		}
		list, _ := base.Mul(market)
		if res.List.Cmp(list) != 0 || res.Version != "" {
			t.Fatalf("list %s, want %s; version %q", res.List, list, res.Version)
		}
	}
	// The README's and docs/API.md's examples.
	in := Input{Member: true, Base: dec(t, "49.99"), Market: dec(t, "0.95")}
	if err := Price(nil, &in, &res); err != nil || res.Final.String() != "45.12" || res.Discount.String() != "0.05" {
		t.Errorf("49.99 x 0.95 x 0.95: %s (discount %s) %v", res.Final, res.Discount, err)
	}
	in = Input{Member: true, Base: dec(t, "52.99"), Market: dec(t, "1.10")}
	if err := Price(nil, &in, &res); err != nil || res.Final.String() != "55.37" {
		t.Errorf("52.99 x 1.10 x 0.95: %s %v", res.Final, err)
	}
	if got := string(res.Explanation.AppendJSON(nil)); got != `[{"factor":"base","value":52.99},{"factor":"market","value":1.1},{"factor":"discount","value":0.05,"member":true}]` {
		t.Errorf("explanation %s", got)
	}
}

// workedExample is docs/RULES.md's worked example: P-123 in NY, a member,
// on Saturday 2026-11-28 at 19:00 in Berlin (18:00 UTC), 137 requests in
// the window and a demand multiplier that has reached 1.05.
func workedExample(t testing.TB) Input {
	return Input{
		Product: []byte("P-123"), Location: []byte("NY"), Member: true,
		Base: dec(t, "52.99"), Market: dec(t, "1.10"),
		Now:    time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC),
		Demand: DemandSeen{Requests: 137, Value: dec(t, "1.05")},
	}
}

func TestPriceWorkedExample(t *testing.T) {
	rs := example(t)
	in := workedExample(t)
	var res Result
	if err := Price(rs, &in, &res); err != nil {
		t.Fatal(err)
	}
	// 52.99 x 1.10 x 1.05 x 0.90 = 55.083105; guards [42.392, 105.98] not
	// hit; ending 0.99 -> 54.99; x 0.95 = 52.2405 -> 52.24.
	if res.List.String() != "54.99" || res.Final.String() != "52.24" || res.Version != "2026-11-28.1" {
		t.Errorf("list %s final %s version %s", res.List, res.Final, res.Version)
	}
	want := `[{"factor":"base","value":52.99},{"factor":"market","value":1.1},` +
		`{"factor":"demand","value":1.05,"requests":137,"tier":0,"above":100,"target":1.05},` +
		`{"factor":"schedule","name":"weekend-sale","value":0.9},` +
		`{"factor":"floor","value":0.8,"bound":42.392,"hit":false},` +
		`{"factor":"ceiling","value":2,"bound":105.98,"hit":false},` +
		`{"factor":"ending","value":0.99,"applied":true},` +
		`{"factor":"discount","value":0.05,"member":true}]`
	if got := string(res.Explanation.AppendJSON(nil)); got != want {
		t.Errorf("explanation\n got %s\nwant %s", got, want)
	}

	in.Member = false
	if err := Price(rs, &in, &res); err != nil || res.Final.String() != "54.99" || !res.Discount.IsZero() {
		t.Errorf("non-member: final %s discount %s %v", res.Final, res.Discount, err)
	}
	// An hour later the sale is over: 61.20345 -> 60.99, member 57.9405 -> 57.94.
	in.Member, in.Now = true, in.Now.Add(time.Hour)
	if err := Price(rs, &in, &res); err != nil || res.List.String() != "60.99" || res.Final.String() != "57.94" {
		t.Errorf("after the sale: list %s final %s %v", res.List, res.Final, err)
	}
}

func TestPriceGuardsAndDemand(t *testing.T) {
	rs, err := Parse("g.yaml", []byte(`version: g
demand:
  window: 1m
  tiers: [{above: 10, multiplier: 3}, {above: 20, multiplier: 5}]
  max_multiplier: 4
guards: {floor: 0.9, ceiling: 2}
schedules:
  - {name: deep, multiplier: 0.5, products: ["LOW"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	base := dec(t, "10")
	for _, tc := range []struct {
		product  string
		requests int64
		list     string
		expl     string
	}{
		// No tier met: 10 x 1 x 1.
		{"P", 5, "10", `{"factor":"demand","value":1,"requests":5,"target":1},{"factor":"floor","value":0.9,"bound":9,"hit":false},{"factor":"ceiling","value":2,"bound":20,"hit":false}`},
		// Tier 1 asks 5, capped at 4 (no max_step: applied at once); 40 > 20: ceiling.
		{"P", 21, "20", `{"factor":"demand","value":4,"requests":21,"tier":1,"above":20,"target":4},{"factor":"floor","value":0.9,"bound":9,"hit":false},{"factor":"ceiling","value":2,"bound":20,"hit":true}`},
		// 10 x 0.5 = 5 < 9: floor.
		{"LOW", 0, "9", `{"factor":"demand","value":1,"requests":0,"target":1},{"factor":"schedule","name":"deep","value":0.5},{"factor":"floor","value":0.9,"bound":9,"hit":true},{"factor":"ceiling","value":2,"bound":20,"hit":false}`},
	} {
		in := Input{Product: []byte(tc.product), Location: []byte("NY"), Base: base, Market: money.New(1, 0),
			Now: time.Unix(0, 0), Demand: DemandSeen{Requests: tc.requests}}
		var res Result
		if err := Price(rs, &in, &res); err != nil {
			t.Fatal(err)
		}
		got := string(res.Explanation.AppendJSON(nil))
		if res.List.String() != tc.list || !strings.Contains(got, tc.expl) {
			t.Errorf("%s/%d: list %s, explanation %s\nwant list %s, containing %s", tc.product, tc.requests, res.List, got, tc.list, tc.expl)
		}
	}
}

func TestPriceSmoothedDemand(t *testing.T) {
	rs := example(t) // max_step 0.05, max_multiplier 1.5
	in := workedExample(t)
	var res Result
	for _, tc := range []struct {
		requests int64
		value    string
		want     string // the demand factor's value in the explanation
	}{
		{0, "", "1"},            // nothing seen: 1
		{600, "1.1", "1.1"},     // tier 1 asks 1.15; the snapshot's value has reached 1.1
		{5000, "1.7", "1.5"},    // a value above max_multiplier (from an older ruleset) is capped
		{137, "1.05", "1.05"},   // the worked example
		{2001, "1.25", "1.25"},  // tier 2 asks 1.30
		{99, "1.15", "1.15"},    // demand fell: the value steps down over the next windows
		{-1, "", "1"},           // nonsense in, still a price
		{100, "0", "1"},         // zero value means 1
		{101, "1.0000", "1.00"}, // scale is kept
	} {
		in.Demand = DemandSeen{Requests: tc.requests}
		if tc.value != "" {
			in.Demand.Value = dec(t, tc.value)
		}
		if err := Price(rs, &in, &res); err != nil {
			t.Fatal(err)
		}
		f := res.Explanation.Factors()[2]
		if f.Kind != FactorDemand || f.Value.Cmp(dec(t, tc.want)) != 0 || f.Requests != tc.requests {
			t.Errorf("requests %d value %q: factor %+v, want value %s", tc.requests, tc.value, f, tc.want)
		}
	}
}

func TestApplyEnding(t *testing.T) {
	for _, tc := range []struct {
		list, ending, want string
		applied            bool
	}{
		{"55.083105", "0.99", "54.99", true},
		{"54.99", "0.99", "54.99", true},
		{"55", "0.99", "54.99", true},
		{"55.995", "0.99", "55.99", true},
		{"1.5", "0.99", "0.99", true},
		{"0.99", "0.99", "0.99", true},
		{"0.5", "0.99", "0.5", false}, // below the ending: unchanged
		{"12.34", "0", "12", true},
		{"12.34", "0.5", "11.5", true},
		{"12.5", "0.5", "12.5", true},
		{"12.49", "0.95", "11.95", true},
	} {
		got, applied, err := ApplyEnding(dec(t, tc.list), dec(t, tc.ending))
		if err != nil || got.Cmp(dec(t, tc.want)) != 0 || applied != tc.applied {
			t.Errorf("ApplyEnding(%s, %s) = %s, %v, %v; want %s, %v", tc.list, tc.ending, got, applied, err, tc.want, tc.applied)
		}
	}
}

func TestEndingAtLeast(t *testing.T) {
	for _, tc := range []struct{ v, ending, want string }{
		{"49.94001", "0.99", "49.99"},
		{"49.99", "0.99", "49.99"},
		{"50", "0.99", "50.99"},
		{"0.5", "0.99", "0.99"},
		{"0", "0.99", "0.99"},
		{"12.01", "0", "13"},
		{"12", "0", "12"},
		{"11.96", "0.95", "12.95"},
	} {
		got, err := EndingAtLeast(dec(t, tc.v), dec(t, tc.ending))
		if err != nil || got.Cmp(dec(t, tc.want)) != 0 {
			t.Errorf("EndingAtLeast(%s, %s) = %s, %v; want %s", tc.v, tc.ending, got, err, tc.want)
		}
	}
}

// TestEndWithin: the ending never leaves [floor, ceiling] (zero: no such
// guard); the list price given is already inside.
func TestEndWithin(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		list, ending, floor, ceiling string
		want                         string
		applied                      bool
	}{
		{"no guards", "55.083105", "0.99", "0", "0", "54.99", true},
		{"down stays above the floor", "55.08", "0.99", "42.392", "105.98", "54.99", true},
		{"down lands on the floor", "55.08", "0.99", "54.99", "0", "54.99", true},
		// Floor 0.999 x 49.99; MIA 0.95 clamped up: rounding down gave 48.99.
		{"up to stay above the floor", "49.94001", "0.99", "49.94001", "99.98", "49.99", true},
		{"up without a ceiling", "49.94001", "0.99", "49.94001", "0", "49.99", true},
		{"up to the ceiling exactly", "49.94001", "0.99", "49.94001", "49.99", "49.99", true},
		{"none fits under the ceiling", "49.94001", "0.99", "49.94001", "49.965", "49.94001", false},
		{"below the ending", "0.5", "0.99", "0.4", "1", "0.5", false},
		{"ending 0, up", "12.3", "0", "12.3", "20", "13", true},
		{"ending 0, none fits", "12.3", "0", "12.3", "12.5", "12.3", false},
		{"between floor and ceiling, down", "13.7", "0.5", "12.6", "14", "13.5", true},
	} {
		got, applied, err := EndWithin(dec(t, tc.list), dec(t, tc.ending), dec(t, tc.floor), dec(t, tc.ceiling))
		if err != nil || got.Cmp(dec(t, tc.want)) != 0 || applied != tc.applied {
			t.Errorf("%s: EndWithin(%s, %s, [%s, %s]) = %s, %v, %v; want %s, %v", tc.name, tc.list, tc.ending, tc.floor, tc.ceiling, got, applied, err, tc.want, tc.applied)
		}
	}
}

// TestPriceEndingKeepsFloor is the reported case: floor 0.999, P-100 in
// MIA (49.99 x 0.95): the floor lifts the list price to 49.94001 and the
// ending must not take it back down to 48.99.
func TestPriceEndingKeepsFloor(t *testing.T) {
	for _, tc := range []struct {
		guards, list, final string
		applied             bool
	}{
		{"{floor: 0.999}", "49.99", "49.99", true},
		{"{floor: 0.999, ceiling: 1}", "49.99", "49.99", true},
		{"{floor: 0.999, ceiling: 0.9995}", "49.94001", "49.94", false},
	} {
		rs, err := Parse("f.yaml", []byte("version: f\nguards: "+tc.guards+"\nending: \"0.99\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		in := Input{Product: []byte("P-100"), Location: []byte("MIA"), Base: dec(t, "49.99"), Market: dec(t, "0.95")}
		var res Result
		if err := Price(rs, &in, &res); err != nil {
			t.Fatal(err)
		}
		var ending Factor
		for _, f := range res.Explanation.Factors() {
			if f.Kind == FactorEnding {
				ending = f
			}
		}
		if res.List.String() != tc.list || res.Final.String() != tc.final || ending.Hit != tc.applied {
			t.Errorf("guards %s: list %s final %s ending applied %v; want %s %s %v", tc.guards, res.List, res.Final, ending.Hit, tc.list, tc.final, tc.applied)
		}
	}
}

func TestScheduleActive(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	night := Schedule{Days: allDays, From: 22 * 60, To: 6 * 60, Location: time.UTC}
	friNight := Schedule{Days: 1 << time.Friday, From: 22 * 60, To: 2 * 60, Location: time.UTC}
	evening := Schedule{Days: 1<<time.Saturday | 1<<time.Sunday, From: 18 * 60, To: 20 * 60, Location: berlin}
	allDay := Schedule{Days: 1 << time.Saturday, From: 0, To: 24 * 60, Location: time.UTC}
	twoAM := Schedule{Days: allDays, From: 2 * 60, To: 3 * 60, Location: berlin}
	for _, tc := range []struct {
		name string
		s    *Schedule
		at   string
		want bool
	}{
		{"night 23:30", &night, "2026-11-28T23:30:00Z", true},
		{"night 05:59", &night, "2026-11-28T05:59:59Z", true},
		{"night 06:00 ends", &night, "2026-11-28T06:00:00Z", false},
		{"night 21:59", &night, "2026-11-28T21:59:59Z", false},
		{"night 22:00 starts", &night, "2026-11-28T22:00:00Z", true},
		{"fri night, sat 01:00", &friNight, "2026-11-28T01:00:00Z", true},  // started Friday 22:00
		{"fri night, fri 23:00", &friNight, "2026-11-27T23:00:00Z", true},  // Friday
		{"fri night, fri 01:00", &friNight, "2026-11-27T01:00:00Z", false}, // would have started Thursday
		{"fri night, sat 23:00", &friNight, "2026-11-28T23:00:00Z", false}, // Saturday is not listed
		{"fri night, sat 02:00", &friNight, "2026-11-28T02:00:00Z", false},
		{"berlin winter 18:30 CET", &evening, "2026-11-28T17:30:00Z", true},
		{"berlin winter 17:30 UTC is 18:30 CET", &evening, "2026-11-28T17:30:00Z", true},
		{"berlin winter 16:30 UTC is 17:30 CET", &evening, "2026-11-28T16:30:00Z", false},
		{"berlin summer 16:30 UTC is 18:30 CEST", &evening, "2026-06-27T16:30:00Z", true},
		{"berlin summer 18:30 UTC is 20:30 CEST", &evening, "2026-06-27T18:30:00Z", false},
		{"berlin friday", &evening, "2026-11-27T17:30:00Z", false},
		{"all saturday 00:00", &allDay, "2026-11-28T00:00:00Z", true},
		{"all saturday 23:59", &allDay, "2026-11-28T23:59:59Z", true},
		{"all saturday sunday 00:00", &allDay, "2026-11-29T00:00:00Z", false},
		{"before 1970", &allDay, "1969-12-27T12:00:00Z", true}, // a Saturday
		// 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:30 happens twice.
		{"autumn 02:30 CEST", &twoAM, "2026-10-25T00:30:00Z", true},
		{"autumn 02:30 CET", &twoAM, "2026-10-25T01:30:00Z", true},
		{"autumn 03:00 CET", &twoAM, "2026-10-25T02:00:00Z", false},
		// 2026-03-29: 02:00 CET becomes 03:00 CEST, 02:xx never happens.
		{"spring 01:59 CET", &twoAM, "2026-03-29T00:59:00Z", false},
		{"spring 03:00 CEST", &twoAM, "2026-03-29T01:00:00Z", false},
		{"the day before 02:30 CET", &twoAM, "2026-03-28T01:30:00Z", true},
	} {
		if got := tc.s.activeAt(utc(tc.at)); got != tc.want {
			t.Errorf("%s (%s): active %v, want %v", tc.name, tc.at, got, tc.want)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"P-1*", "P-1", true},
		{"P-1*", "P-123", true},
		{"P-1*", "P-2", false},
		{"P-1*", "p-1", false},
		{"*", "", true},
		{"*", "anything", true},
		{"P-?", "P-1", true},
		{"P-?", "P-12", false},
		{"*-9", "P-9", true},
		{"*-9", "P-99", false},
		{"*a*b*c", "xxaxxbxxc", true},
		{"*a*b*c", "xxaxxbxxcx", false},
		{`P-\*`, "P-*", true},
		{`P-\*`, "P-1", false},
		{`\?`, "?", true},
		{"NY", "NY", true},
		{"NY", "NYC", false},
		{"", "", true},
	} {
		if got := MatchGlob(tc.p, []byte(tc.s)); got != tc.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestScheduleFirstMatchWins(t *testing.T) {
	rs := example(t)
	// Friday 2026-11-27 12:00 in New York: black-friday (0.80) matches
	// P-123 before anything else.
	in := workedExample(t)
	in.Now = time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC)
	var res Result
	if err := Price(rs, &in, &res); err != nil {
		t.Fatal(err)
	}
	f := res.Explanation.Factors()[3]
	if f.Kind != FactorSchedule || f.Name != "black-friday" {
		t.Errorf("factor %+v", f)
	}
	// P-3 is in no schedule's products; at 23:00 UTC in SF late-night applies.
	in.Product, in.Location, in.Now = []byte("P-3"), []byte("SF"), time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	if err := Price(rs, &in, &res); err != nil {
		t.Fatal(err)
	}
	if f := res.Explanation.Factors()[3]; f.Kind != FactorSchedule || f.Name != "late-night" {
		t.Errorf("factor %+v", f)
	}
}

func TestPriceOverflow(t *testing.T) {
	rs := example(t)
	in := workedExample(t)
	in.Base = money.New(987654321987654321, 0)
	var res Result
	if err := Price(rs, &in, &res); err == nil {
		t.Fatalf("an overflowing product was priced: %s", res.Final)
	}
	if err := Price(nil, &in, &res); err == nil || !strings.Contains(err.Error(), "cannot compute price") {
		t.Fatalf("no rules: %v", err)
	}
}

func TestPriceAllocs(t *testing.T) {
	rs := example(t)
	in := workedExample(t)
	var res Result
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() {
		if err := Price(rs, &in, &res); err != nil {
			t.Fatal(err)
		}
		buf = res.Explanation.AppendJSON(buf[:0])
	}); n != 0 {
		t.Errorf("Price with rules allocates %v times per call", n)
	}
}

func exampleBytes(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestScheduleMemo: the per-minute memo answers as the computation does,
// across a day of times 7 s apart and back again.
func TestScheduleMemo(t *testing.T) {
	rs := example(t)
	start := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, step := range []time.Duration{7 * time.Second, -13 * time.Second} {
		at := start
		if step < 0 {
			at = start.Add(48 * time.Hour)
		}
		for i := 0; i < 2*86400/7; i++ {
			for j := range rs.Schedules {
				s := &rs.Schedules[j]
				want, _ := s.compute(at)
				if got := s.activeAt(at); got != want {
					t.Fatalf("%s at %s: memo says %v, computed %v", s.Name, at, got, want)
				}
			}
			at = at.Add(step)
		}
	}
}

// TestCompiledGlob: the literal and prefix shortcuts agree with MatchGlob.
func TestCompiledGlob(t *testing.T) {
	subjects := []string{"", "P", "P-", "P-1", "P-12", "P-1*", `P-1\`, "NY", "NYC", "xP-1", "P-?"}
	for _, p := range []string{"P-1*", "P-1", "NY", "*", "P-?", `P-1\*`, `P-1\\*`, "P*1", "**", `\?`} {
		g := compileGlob(p)
		for _, s := range subjects {
			if got, want := g.match([]byte(s)), MatchGlob(p, []byte(s)); got != want {
				t.Errorf("compiled %q (kind %d) on %q: %v, MatchGlob %v", p, g.kind, s, got, want)
			}
		}
	}
}

// TestSeed: the seed formula for the contract's examples, its edges, and
// its cost (none).
func TestSeed(t *testing.T) {
	for _, tc := range []struct {
		base, market string
		member       bool
		list, disc   string
		final        string
	}{
		{"49.99", "0.95", true, "47.4905", "0.05", "45.12"},
		{"52.99", "1.10", true, "58.2890", "0.05", "55.37"},
		{"52.99", "1.10", false, "58.2890", "0", "58.29"},
		{"0.01", "0.5", false, "0.005", "0", "0.00"}, // half to even
		{"0.03", "0.5", false, "0.015", "0", "0.02"},
	} {
		list, disc, final, err := Seed(dec(t, tc.base), dec(t, tc.market), tc.member)
		if err != nil || list.Cmp(dec(t, tc.list)) != 0 || disc.Cmp(dec(t, tc.disc)) != 0 || final.Cmp(dec(t, tc.final)) != 0 || final.Scale() > 2 {
			t.Errorf("Seed(%s, %s, %v) = %s %s %s %v; want %s %s %s", tc.base, tc.market, tc.member, list, disc, final, err, tc.list, tc.disc, tc.final)
		}
	}
	huge := money.New(1<<62, 0)
	if _, _, _, err := Seed(huge, huge, true); !errors.Is(err, ErrCompute) {
		t.Errorf("overflow: %v, want ErrCompute", err)
	}
	base, market := dec(t, "52.99"), dec(t, "1.10")
	if n := testing.AllocsPerRun(1000, func() { _, _, _, _ = Seed(base, market, true) }); n != 0 {
		t.Errorf("Seed allocates %v times", n)
	}
}
