package money

import "testing"

func TestFloor(t *testing.T) {
	for _, tc := range []struct {
		in     string
		places uint8
		want   string
	}{
		{"12.34", 0, "12"},
		{"12.99", 0, "12"},
		{"-12.34", 0, "-13"},
		{"-12", 0, "-12"},
		{"-0.01", 0, "-1"},
		{"0.999", 2, "0.99"},
		{"-0.991", 2, "-1"},
		{"5", 2, "5"},
		{"1.5", 1, "1.5"},
		{"0", 0, "0"},
	} {
		got := MustParseTest(t, tc.in).Floor(tc.places)
		if got.Cmp(MustParseTest(t, tc.want)) != 0 || got.Scale() > tc.places {
			t.Errorf("Floor(%s, %d) = %s (scale %d), want %s", tc.in, tc.places, got, got.Scale(), tc.want)
		}
	}
}

func TestMinMax(t *testing.T) {
	a, b := MustParseTest(t, "1.10"), MustParseTest(t, "1.1")
	if Min(a, b).Scale() != 2 || Max(a, b).Scale() != 2 {
		t.Errorf("Min/Max of equal values must return the first operand")
	}
	c := MustParseTest(t, "0.9")
	if Min(a, c).Cmp(c) != 0 || Max(c, a).Cmp(a) != 0 {
		t.Errorf("Min(1.10, 0.9) = %s, Max(0.9, 1.10) = %s", Min(a, c), Max(c, a))
	}
}

func MustParseTest(t *testing.T, s string) Decimal {
	t.Helper()
	d, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
