package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// randomRules writes a random valid rules file.
func randomRules(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: r%d\n", i)
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "member_discount: 0.%02d\n", r.IntN(100))
	}
	if r.IntN(3) > 0 {
		b.WriteString("demand:\n  window: 60s\n  tiers:\n")
		above, mult := int64(r.IntN(50)), 100+r.IntN(20)
		for n := 1 + r.IntN(3); n > 0; n-- {
			fmt.Fprintf(&b, "    - {above: %d, multiplier: %d.%02d}\n", above, mult/100, mult%100)
			above += 1 + int64(r.IntN(500))
			mult += r.IntN(30)
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "  max_multiplier: 1.%d\n", r.IntN(10))
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "  max_step: 0.0%d\n", 1+r.IntN(9))
		}
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"}
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	globs := []string{`"P-1*"`, `"P-?"`, `"*9"`, `"P-42"`, `"*"`}
	locs := []string{`"NY"`, `"LA"`, `"S?"`, `"*"`}
	if n := r.IntN(4); n > 0 {
		b.WriteString("schedules:\n")
		for j := 0; j < n; j++ {
			fmt.Fprintf(&b, "  - name: s%d\n    multiplier: 0.%02d\n", j, 50+r.IntN(50))
			if r.IntN(2) == 0 {
				d := r.IntN(7)
				b.WriteString("    days: [" + days[d] + ", " + days[(d+1+r.IntN(6))%7] + "]\n")
			}
			if r.IntN(2) == 0 {
				from, to := r.IntN(24), r.IntN(24)
				if from == to {
					to = (to + 1) % 24
				}
				fmt.Fprintf(&b, "    from: \"%02d:00\"\n    to: \"%02d:30\"\n", from, to)
			}
			fmt.Fprintf(&b, "    tz: %s\n", zones[r.IntN(len(zones))])
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, "    products: [%s]\n", globs[r.IntN(len(globs))])
			}
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, "    locations: [%s]\n", locs[r.IntN(len(locs))])
			}
		}
	}
	if r.IntN(3) > 0 {
		b.WriteString("guards:\n")
		// In ten-thousandths: floors up to 1 (the ending then often has to
		// round up to stay above it), ceilings sometimes just above the
		// floor (no price with the ending fits between them).
		floor, ceil := 5000+r.IntN(5001), 10000+r.IntN(20000)
		withFloor := r.IntN(3) > 0
		if withFloor {
			fmt.Fprintf(&b, "  floor: %d.%04d\n", floor/10000, floor%10000)
			if r.IntN(4) == 0 {
				ceil = floor + r.IntN(50)
			}
		}
		if !withFloor || r.IntN(3) > 0 {
			fmt.Fprintf(&b, "  ceiling: %d.%04d\n", ceil/10000, ceil%10000)
		}
	}
	if e := r.IntN(5); e > 0 {
		fmt.Fprintf(&b, "ending: %q\n", []string{"", "0.99", "0.95", "0", "0.5"}[e])
	}
	return b.String()
}

// explained is one element of the explanation as a reader decodes it.
type explained struct {
	Factor   string       `json:"factor"`
	Name     string       `json:"name"`
	Value    json.Number  `json:"value"`
	Bound    *json.Number `json:"bound"`
	Hit      *bool        `json:"hit"`
	Applied  *bool        `json:"applied"`
	Member   *bool        `json:"member"`
	Requests *int64       `json:"requests"`
}

// evaluate recomputes (list, final) from the explanation's JSON alone,
// the way a reader with a calculator would.
// how tells how the ending was applied: "" (no ending or below it),
// "down", "up" (raised to stay above the floor) or "floor" (none fitted
// between the guards).
func evaluate(t *testing.T, explanation []byte) (list, final money.Decimal, how string) {
	t.Helper()
	var fs []explained
	d := json.NewDecoder(bytes.NewReader(explanation))
	d.UseNumber()
	if err := d.Decode(&fs); err != nil {
		t.Fatalf("explanation is not JSON: %v: %s", err, explanation)
	}
	num := func(n json.Number) money.Decimal {
		v, err := money.Parse(string(n))
		if err != nil {
			t.Fatalf("%q: %v", n, err)
		}
		return v
	}
	mul := func(a, b money.Decimal) money.Decimal {
		p, err := a.Mul(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var base, floorBound, ceilBound money.Decimal
	discount := money.Decimal{}
	for i, f := range fs {
		v := num(f.Value)
		switch f.Factor {
		case "base":
			base, list = v, v
		case "market", "demand", "schedule":
			list = mul(list, v)
		case "floor", "ceiling":
			bound := num(*f.Bound)
			if bound.Cmp(mul(base, v)) != 0 {
				t.Fatalf("factor %d: bound %s is not %s x base %s", i, bound, v, base)
			}
			below := list.Cmp(bound) < 0
			if f.Factor == "ceiling" {
				below = list.Cmp(bound) > 0
			}
			if below != *f.Hit {
				t.Fatalf("factor %d: hit %v but list %s vs bound %s", i, *f.Hit, list, bound)
			}
			if below {
				list = bound
			}
			if f.Factor == "floor" {
				floorBound = bound
			} else {
				ceilBound = bound
			}
		case "ending":
			if list.Cmp(v) < 0 {
				if *f.Applied {
					t.Fatalf("ending applied to %s below %s", list, v)
				}
				continue
			}
			// The largest n + ending <= list, n a whole number; if that is
			// below the floor, the smallest n + ending >= floor; if that is
			// above the ceiling, the floor.
			n := money.New(0, 0)
			for step := int64(1) << 40; step > 0; step >>= 1 {
				c, _ := n.Add(money.New(step, 0))
				if s, _ := c.Add(v); s.Cmp(list) <= 0 {
					n = c
				}
			}
			list, _ = n.Add(v)
			how = "down"
			if !floorBound.IsZero() && list.Cmp(floorBound) < 0 {
				how = "up"
				for list.Cmp(floorBound) < 0 {
					list, _ = list.Add(money.New(1, 0))
				}
				if !ceilBound.IsZero() && list.Cmp(ceilBound) > 0 {
					list, how = floorBound, "floor"
				}
			}
			if want := list.Cmp(floorBound) != 0 || ending(list, v); want != *f.Applied {
				t.Fatalf("ending %s: applied %v, but the list price is %s", v, *f.Applied, list)
			}
		case "discount":
			discount = v
			if !*f.Member && !v.IsZero() {
				t.Fatalf("a non-member got discount %s", v)
			}
		default:
			t.Fatalf("unknown factor %q", f.Factor)
		}
	}
	keep, _ := money.New(1, 0).Sub(discount)
	return list, mul(list, keep).Round(2), how
}

// ending reports whether v is n + e for a whole number n.
func ending(v, e money.Decimal) bool {
	d, err := v.Sub(e)
	return err == nil && d.Sign() >= 0 && d.Floor(0).Cmp(d) == 0
}

// TestPropertyFinalFromExplanation prices random requests under random
// rulesets and recomputes every final price from the explanation alone.
func TestPropertyFinalFromExplanation(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var res Result
	var buf []byte
	schedulesHit, raised, floored := 0, 0, 0
	for i := 0; i < 120; i++ {
		src := randomRules(r, i)
		rs, err := Parse("random.yaml", []byte(src))
		if err != nil {
			t.Fatalf("random rules refused: %v\n%s", err, src)
		}
		for j := 0; j < 50; j++ {
			in := Input{
				Product:  []byte(fmt.Sprintf("P-%d", r.IntN(200))),
				Location: []byte([]string{"NY", "LA", "SF", "MIA"}[r.IntN(4)]),
				Member:   r.IntN(2) == 0,
				Base:     money.New(1+r.Int64N(1000000), 2),
				Market:   money.New(50+r.Int64N(100), 2),
				Now:      year.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))),
				Demand:   DemandSeen{Requests: r.Int64N(3000)},
			}
			if r.IntN(2) == 0 {
				in.Demand.Value = money.New(100+r.Int64N(60), 2)
			}
			if err := Price(rs, &in, &res); err != nil {
				t.Fatal(err)
			}
			// The explanation states the ruleset's values.
			for _, f := range res.Explanation.Factors() {
				switch f.Kind {
				case FactorDiscount:
					if in.Member && f.Value.Cmp(rs.MemberDiscount) != 0 {
						t.Fatalf("discount %s, ruleset says %s", f.Value, rs.MemberDiscount)
					}
				case FactorSchedule:
					if s := rs.schedule(&in); s == nil || s.Name != f.Name || s.Multiplier.Cmp(f.Value) != 0 {
						t.Fatalf("schedule %s %s is not the first that matches", f.Name, f.Value)
					}
				case FactorFloor, FactorCeiling:
					if f.Value.Cmp(rs.Floor) != 0 && f.Value.Cmp(rs.Ceiling) != 0 {
						t.Fatalf("guard %s is not the ruleset's", f.Value)
					}
				}
			}
			buf = res.Explanation.AppendJSON(buf[:0])
			list, final, how := evaluate(t, buf)
			switch how {
			case "up":
				raised++
			case "floor":
				floored++
			}
			if list.Cmp(res.List) != 0 || final.Cmp(res.Final) != 0 {
				t.Fatalf("rules:\n%s\nexplanation %s\nrecomputed list %s final %s; Price said list %s final %s", src, buf, list, final, res.List, res.Final)
			}
			if bytes.Contains(buf, []byte(`"schedule"`)) {
				schedulesHit++
			}
			checkGuards(t, rs, &in, &res)
		}
	}
	if schedulesHit < 40 {
		t.Errorf("only %d of 6000 prices had a schedule: the generator does not exercise schedules", schedulesHit)
	}
	if raised < 20 || floored < 5 {
		t.Errorf("of 6000 prices, %d had the ending raised to stay above the floor and %d kept the floor: the generator does not exercise the guards with an ending", raised, floored)
	}
}

// checkGuards checks the guards' promise on one price: the list price is
// never below floor x base nor above ceiling x base, the ending included.
func checkGuards(t *testing.T, rs *Ruleset, in *Input, res *Result) {
	t.Helper()
	bound := func(f money.Decimal) money.Decimal {
		b, err := in.Base.Mul(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !rs.Floor.IsZero() && res.List.Cmp(bound(rs.Floor)) < 0 {
		t.Fatalf("list %s below the floor %s x %s", res.List, rs.Floor, in.Base)
	}
	if !rs.Ceiling.IsZero() && res.List.Cmp(bound(rs.Ceiling)) > 0 {
		t.Fatalf("list %s above the ceiling %s x %s", res.List, rs.Ceiling, in.Base)
	}
}
