package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRulesCollector(t *testing.T) {
	tests := []struct {
		name string
		st   RulesStats
		want string
	}{
		{"without rules", RulesStats{}, `
# HELP pricing_rules_reloads_refused_total Reloads refused because the new file was bad; the old rules kept serving.
# TYPE pricing_rules_reloads_refused_total counter
pricing_rules_reloads_refused_total 0
`},
		{"with rules", RulesStats{Version: "v2", LoadedAt: 1.5e9, Applied: 2, Refused: 1}, `
# HELP pricing_rules_info 1, labelled with the version of the ruleset in use (absent without rules).
# TYPE pricing_rules_info gauge
pricing_rules_info{version="v2"} 1
# HELP pricing_rules_reloads_refused_total Reloads refused because the new file was bad; the old rules kept serving.
# TYPE pricing_rules_reloads_refused_total counter
pricing_rules_reloads_refused_total 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := tt.st
			NewRules(reg, func() RulesStats { return st })
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want), "pricing_rules_info", "pricing_rules_reloads_refused_total"); err != nil {
				t.Error(err)
			}
			n, err := testutil.GatherAndCount(reg, "pricing_rules_info")
			if err != nil || (n == 1) != (st.Version != "") {
				t.Errorf("pricing_rules_info count %d, %v", n, err)
			}
		})
	}
}
