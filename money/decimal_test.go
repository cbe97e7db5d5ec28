package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) Decimal {
	t.Helper()
	d, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return d
}

func TestParse(t *testing.T) {
	tests := []struct {
		in    string
		coef  int64
		scale uint8
	}{
		{"49.99", 4999, 2},
		{"1", 1, 0},
		{"0.95", 95, 2},
		{"0", 0, 0},
		{"00012.50", 1250, 2},
		{"-0.5", -5, 1},
		{"1.10", 110, 2},
		{"999999999999999999", 999999999999999999, 0},
		{"0.000000000000000001", 1, 18},
		{"123456789.123456789", 123456789123456789, 9},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if d.coef != tt.coef || d.Scale() != tt.scale {
			t.Errorf("Parse(%q) = %d/10^%d, want %d/10^%d", tt.in, d.coef, d.Scale(), tt.coef, tt.scale)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "-", "+1", ".", "1.", ".5", "1.2.3", "1e5", "0x10", " 1", "1 ", "abc",
		"1,5", "--1", "NaN", "Inf",
		"1234567890123456789",   // 19 significant digits
		"0.0000000000000000001", // scale 19
	} {
		_, err := Parse(in)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", in, err)
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	tests := []struct {
		in     string
		places uint8
		want   string
	}{
		{"0.125", 2, "0.12"},
		{"0.135", 2, "0.14"},
		{"0.145", 2, "0.14"},
		{"0.1251", 2, "0.13"},
		{"45.115975", 2, "45.12"},
		{"45.114999", 2, "45.11"},
		{"-0.125", 2, "-0.12"},
		{"-0.135", 2, "-0.14"},
		{"-0.126", 2, "-0.13"},
		{"2.5", 0, "2"},
		{"3.5", 0, "4"},
		{"0.005", 2, "0"},
		{"0.015", 2, "0.02"},
		{"49.99", 2, "49.99"},
		{"7", 2, "7"},
		{"0.999", 2, "1"},
		{"999999999999999999", 0, "999999999999999999"},
		{"0.999999999999999999", 0, "1"},
	}
	for _, tt := range tests {
		got := mustParse(t, tt.in).Round(tt.places).String()
		if got != tt.want {
			t.Errorf("Round(%s, %d) = %s, want %s", tt.in, tt.places, got, tt.want)
		}
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		d    Decimal
		want string
	}{
		{New(5000, 2), "50"},
		{New(4510, 2), "45.1"},
		{New(4512, 2), "45.12"},
		{New(5, 2), "0.05"},
		{New(100, 2), "1"},
		{New(0, 5), "0"},
		{New(-5, 3), "-0.005"},
		{New(1, 18), "0.000000000000000001"},
		{New(math.MaxInt64, 0), "9223372036854775807"},
		{New(math.MaxInt64, 18), "9.223372036854775807"},
		{New(math.MinInt64, 18), "-9.223372036854775808"},
		{Decimal{}, "0"},
	}
	for _, tt := range tests {
		if got := string(tt.d.Append([]byte("x"))); got != "x"+tt.want {
			t.Errorf("Append(%d/10^%d) = %q, want %q", tt.d.coef, tt.d.Scale(), got, "x"+tt.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	tests := []struct {
		a, b     string
		mul, sub string
	}{
		{"49.99", "0.95", "47.4905", "49.04"},
		{"1", "0.05", "0.05", "0.95"},
		{"1", "0", "0", "1"},
		{"-1.5", "2", "-3", "-3.5"},
		{"0.1", "0.2", "0.02", "-0.1"},
		{"999999999.999999999", "1", "999999999.999999999", "999999998.999999999"},
	}
	for _, tt := range tests {
		a, b := mustParse(t, tt.a), mustParse(t, tt.b)
		m, err := a.Mul(b)
		if err != nil || m.String() != tt.mul {
			t.Errorf("%s * %s = %v, %v; want %s", tt.a, tt.b, m, err, tt.mul)
		}
		s, err := a.Sub(b)
		if err != nil || s.String() != tt.sub {
			t.Errorf("%s - %s = %v, %v; want %s", tt.a, tt.b, s, err, tt.sub)
		}
	}
	// The contract's example: 49.99 x 0.95 x 0.95 = 45.115975 -> 45.12.
	p, _ := mustParse(t, "49.99").Mul(mustParse(t, "0.95"))
	p, _ = p.Mul(mustParse(t, "0.95"))
	if p.String() != "45.115975" || p.Round(2).String() != "45.12" {
		t.Errorf("49.99*0.95*0.95 = %s rounds to %s", p, p.Round(2))
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		name string
		op   func() (Decimal, error)
	}{
		{"mul coef", func() (Decimal, error) { return New(math.MaxInt64, 0).Mul(New(2, 0)) }},
		{"mul scale", func() (Decimal, error) { return New(1, 10).Mul(New(1, 10)) }},
		{"sub", func() (Decimal, error) { return New(math.MinInt64+1, 0).Sub(New(2, 0)) }},
		{"sub rescale", func() (Decimal, error) { return New(1, 18).Sub(New(math.MaxInt64, 0)) }},
		{"add", func() (Decimal, error) { return New(math.MaxInt64, 0).Add(New(1, 0)) }},
	}
	for _, tt := range tests {
		if d, err := tt.op(); !errors.Is(err, ErrOverflow) {
			t.Errorf("%s = %v, %v; want ErrOverflow", tt.name, d, err)
		}
	}
	// Trailing zeros are dropped rather than overflowing the scale.
	d, err := New(10, 10).Mul(New(10, 10))
	if err != nil || d.String() != "0.000000000000000001" {
		t.Errorf("1e-9 * 1e-9 = %v, %v", d, err)
	}
}

func TestCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1.00", 0},
		{"1.1", "1.09", 1},
		{"-1.1", "-1.09", -1},
		{"0", "0.000", 0},
		{"-0.1", "0", -1},
		{"999999999999999999", "0.1", 1},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.a).Cmp(mustParse(t, tt.b)); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := mustParse(t, tt.b).Cmp(mustParse(t, tt.a)); got != -tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestNewPanicsOnBadScale(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(1, MaxScale+1) did not panic")
		}
	}()
	New(1, MaxScale+1)
}

// rat converts d to an exact big.Rat.
func rat(d Decimal) *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale())), nil)
	return new(big.Rat).SetFrac(big.NewInt(d.coef), den)
}

// roundRat rounds x to places digits, half to even, with math/big.
func roundRat(x *big.Rat, places uint8) *big.Rat {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	y := new(big.Rat).Mul(x, new(big.Rat).SetInt(scale))
	num, den := y.Num(), y.Denom()
	q, r := new(big.Int).QuoRem(num, den, new(big.Int)) // truncated toward zero
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	if c := twice.Cmp(den); c > 0 || (c == 0 && q.Bit(0) == 1) {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return new(big.Rat).SetFrac(q, scale)
}

func FuzzDecimal(f *testing.F) {
	for _, s := range [][2]string{
		{"49.99", "0.95"}, {"0.125", "1"}, {"-0.135", "1"}, {"45.115975", "0.95"},
		{"999999999999999999", "0.000000000000000001"}, {"0", "-7"},
	} {
		f.Add(s[0], s[1], uint8(2))
	}
	f.Fuzz(func(t *testing.T, as, bs string, places uint8) {
		a, err := Parse(as)
		if err != nil {
			return
		}
		b, err := Parse(bs)
		if err != nil {
			return
		}
		places %= MaxScale + 1
		// Text round trip.
		if back, err := Parse(a.String()); err != nil || back.Cmp(a) != 0 {
			t.Fatalf("Parse(String(%s)) = %v, %v", as, back, err)
		}
		if ar, _ := new(big.Rat).SetString(as); ar.Cmp(rat(a)) != 0 {
			t.Fatalf("Parse(%q) = %s, big.Rat says %s", as, rat(a).FloatString(20), ar.FloatString(20))
		}
		want := new(big.Rat).Mul(rat(a), rat(b))
		if m, err := a.Mul(b); err == nil {
			if rat(m).Cmp(want) != 0 {
				t.Fatalf("%s * %s = %s, want %s", as, bs, m, want.FloatString(36))
			}
			if got, w := rat(m.Round(places)), roundRat(want, places); got.Cmp(w) != 0 {
				t.Fatalf("round(%s, %d) = %s, want %s", m, places, m.Round(places), w.FloatString(int(places)))
			}
		} else if !errors.Is(err, ErrOverflow) {
			t.Fatalf("%s * %s: unexpected error %v", as, bs, err)
		}
		wantSub := new(big.Rat).Sub(rat(a), rat(b))
		if s, err := a.Sub(b); err == nil {
			if rat(s).Cmp(wantSub) != 0 {
				t.Fatalf("%s - %s = %s, want %s", as, bs, s, wantSub.FloatString(20))
			}
		} else if !errors.Is(err, ErrOverflow) {
			t.Fatalf("%s - %s: unexpected error %v", as, bs, err)
		}
		if got, w := a.Cmp(b), rat(a).Cmp(rat(b)); got != w {
			t.Fatalf("Cmp(%s, %s) = %d, want %d", as, bs, got, w)
		}
	})
}

// FuzzAppend holds Append to the text big.Rat gives the same value, with
// trailing fractional zeros and a bare point dropped.
func FuzzAppend(f *testing.F) {
	for _, c := range []struct {
		coef  int64
		scale uint8
	}{{4512, 2}, {5, 2}, {-5, 3}, {0, 5}, {100, 2}, {math.MaxInt64, 18}, {math.MinInt64, 0}, {1, 18}} {
		f.Add(c.coef, c.scale)
	}
	f.Fuzz(func(t *testing.T, coef int64, scale uint8) {
		d := New(coef, scale%(MaxScale+1))
		want := rat(d).FloatString(int(d.Scale()))
		if strings.Contains(want, ".") {
			want = strings.TrimRight(strings.TrimRight(want, "0"), ".")
		}
		if want == "-0" {
			want = "0"
		}
		if got := string(d.Append([]byte("x"))); got != "x"+want {
			t.Fatalf("Append(%d/10^%d) = %q, want %q", coef, d.Scale(), got, "x"+want)
		}
	})
}
