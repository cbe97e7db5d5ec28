package rules

import "testing"

func TestDemandStepAndTarget(t *testing.T) {
	rs, err := Parse("d.yaml", []byte(`version: d
demand:
  window: 12s
  tiers: [{above: 10, multiplier: 1.1}, {above: 100, multiplier: 1.3}]
  max_step: 0.04
  max_multiplier: 1.2
`))
	if err != nil {
		t.Fatal(err)
	}
	d := rs.Demand
	for _, tc := range []struct {
		req              int64
		tier             int
		target, cur, out string
	}{
		{0, -1, "1", "1", "1"},
		{10, -1, "1", "1.1", "1.06"},
		{11, 0, "1.1", "1", "1.04"},
		{11, 0, "1.1", "1.08", "1.1"},
		{101, 1, "1.2", "1.19", "1.2"}, // tier 1 is 1.3, capped at 1.2
	} {
		tier, target := d.Target(tc.req)
		out := d.Step(dec(t, tc.cur), target)
		if tier != tc.tier || target.Cmp(dec(t, tc.target)) != 0 || out.Cmp(dec(t, tc.out)) != 0 {
			t.Errorf("requests %d from %s: tier %d target %s next %s; want %d %s %s", tc.req, tc.cur, tier, target, out, tc.tier, tc.target, tc.out)
		}
	}
}
