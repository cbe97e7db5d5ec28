package lookup

import (
	"errors"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

func TestCheckValue(t *testing.T) {
	tests := []struct {
		name  string
		check func(money.Decimal) error
		value string
		bound string // "" when the value is in range
	}{
		{"price smallest", CheckPrice, "0.01", ""},
		{"price typical", CheckPrice, "52.99", ""},
		{"price at bound", CheckPrice, "1000000000", ""},
		{"price at bound with scale", CheckPrice, "1000000000.00", ""},
		{"price above bound", CheckPrice, "1000000000.01", "at most 1000000000"},
		{"price zero", CheckPrice, "0", "greater than 0"},
		{"price negative", CheckPrice, "-1", "greater than 0"},
		{"multiplier typical", CheckMultiplier, "1.10", ""},
		{"multiplier at bound", CheckMultiplier, "100", ""},
		{"multiplier above bound", CheckMultiplier, "100.001", "at most 100"},
		{"multiplier 1000", CheckMultiplier, "1000", "at most 100"},
		{"multiplier zero", CheckMultiplier, "0.00", "greater than 0"},
		{"multiplier tiny", CheckMultiplier, "0.0001", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := money.Parse(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.check(d)
			if tc.bound == "" {
				if err != nil {
					t.Fatalf("%s refused: %v", tc.value, err)
				}
				return
			}
			if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), tc.bound) {
				t.Fatalf("%s: error %v, want ErrOutOfRange naming %q", tc.value, err, tc.bound)
			}
		})
	}
}

func TestCheckValueAllocs(t *testing.T) {
	p, m := money.New(5299, 2), money.New(110, 2)
	if n := testing.AllocsPerRun(100, func() {
		if CheckPrice(p) != nil || CheckMultiplier(m) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}
