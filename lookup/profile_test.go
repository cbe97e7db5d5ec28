package lookup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

func TestParseProfile(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		in   string
		want Profile
	}{
		{"none", Profile{}},
		{"seed", Profile{Catalog: Range{10 * ms, 50 * ms}, Market: Range{20 * ms, 40 * ms}}},
		{"fault:err=0.1,stall=0.05,stalldur=2s", Profile{ErrRate: 0.1, StallRate: 0.05, StallDur: 2 * time.Second}},
		{"fault:stall=1", Profile{StallRate: 1, StallDur: DefaultStall}},
		{"seed:err=0.01", Profile{Catalog: Range{10 * ms, 50 * ms}, Market: Range{20 * ms, 40 * ms}, ErrRate: 0.01}},
		{"none:catalog=60ms,market=5ms-7ms", Profile{Catalog: Range{60 * ms, 60 * ms}, Market: Range{5 * ms, 7 * ms}}},
		{"fault:err=0,err=1", Profile{ErrRate: 1}},
	}
	for _, tt := range tests {
		got, err := ParseProfile(tt.in)
		if err != nil {
			t.Errorf("ParseProfile(%q): %v", tt.in, err)
			continue
		}
		tt.want.name = tt.in
		if got != tt.want {
			t.Errorf("ParseProfile(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestParseProfileErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `unknown base ""`},
		{"slow", `unknown base "slow"`},
		{"SEED", `unknown base "SEED"`},
		{"seed:", "empty option list"},
		{"fault:err", `option "err" is not key=value`},
		{"fault:err=2", `option err: bad probability "2"`},
		{"fault:err=-0.1", `bad probability "-0.1"`},
		{"fault:err=NaN", `bad probability "NaN"`},
		{"fault:stall=x", `bad probability "x"`},
		{"fault:stalldur=0s", "must be greater than zero"},
		{"fault:catalog=5", `bad duration "5"`},
		{"fault:catalog=-5ms", `bad range "-5ms"`},
		{"fault:catalog=5ms-", `bad range "5ms-"`},
		{"fault:market=2h", `out of range`},
		{"fault:market=50ms-10ms", "maximum below minimum"},
		{"fault:latency=5ms", `unknown option "latency"`},
		{"fault:err=0.1,,stall=0.1", `option "" is not key=value`},
	}
	for _, tt := range tests {
		_, err := ParseProfile(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "cannot parse latency profile") {
			t.Errorf("ParseProfile(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestRangeDrawWithinBounds(t *testing.T) {
	r := Range{10 * time.Millisecond, 50 * time.Millisecond}
	lowHalf, highHalf := 0, 0
	for range 10000 {
		d := r.draw()
		if d < r.Min || d > r.Max {
			t.Fatalf("draw() = %v, outside [%v, %v]", d, r.Min, r.Max)
		}
		if d < 30*time.Millisecond {
			lowHalf++
		} else {
			highHalf++
		}
	}
	// A uniform draw lands in each half about 5000 times; 4000 is over
	// 20 standard deviations away.
	if lowHalf < 4000 || highHalf < 4000 {
		t.Errorf("draws not uniform: %d below the midpoint, %d above", lowHalf, highHalf)
	}
	if d := (Range{7, 7}).draw(); d != 7 {
		t.Errorf("fixed range drew %v", d)
	}
}

func memory(t *testing.T) (*MemoryCatalog, *MemoryMarkets) {
	t.Helper()
	return NewMemoryCatalog(map[string]money.Decimal{"P-1": money.New(4999, 2)}),
		NewMemoryMarkets(map[string]money.Decimal{"NY": money.New(110, 2)})
}

func TestProfileWrapping(t *testing.T) {
	cat, mk := memory(t)
	none, _ := ParseProfile("none")
	if none.WrapCatalog(cat) != Catalog(cat) || none.WrapMarkets(mk) != Markets(mk) {
		t.Error("the none profile wrapped its lookups")
	}
	seed, _ := ParseProfile("seed")
	if _, ok := seed.WrapCatalog(cat).(InstantCatalog); ok {
		t.Error("a wrapped catalog is instant")
	}
	if _, ok := seed.WrapMarkets(mk).(InstantMarkets); ok {
		t.Error("wrapped markets are instant")
	}
}

func TestProfileDelay(t *testing.T) {
	cat, mk := memory(t)
	const delay = 30 * time.Millisecond
	p, err := ParseProfile("none:catalog=30ms,market=30ms")
	if err != nil {
		t.Fatal(err)
	}
	wc, wm := p.WrapCatalog(cat), p.WrapMarkets(mk)
	ctx := context.Background()

	start := time.Now()
	price, err := wc.BasePrice(ctx, []byte("P-1"))
	if took := time.Since(start); took < delay {
		t.Errorf("catalog answered after %v, before its %v delay", took, delay)
	}
	if err != nil || price.String() != "49.99" {
		t.Errorf("BasePrice = %v, %v", price, err)
	}

	start = time.Now()
	m, err := wm.Multiplier(ctx, []byte("LA"))
	if took := time.Since(start); took < delay {
		t.Errorf("market answered after %v, before its %v delay", took, delay)
	}
	if err != nil || m.String() != "1" {
		t.Errorf("Multiplier = %v, %v", m, err)
	}

	if _, err := wc.BasePrice(ctx, []byte("P-2")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown product through a profile: %v", err)
	}
}

func TestProfileHonoursContext(t *testing.T) {
	cat, mk := memory(t)
	p, err := ParseProfile("fault:stall=1,stalldur=1h")
	if err != nil {
		t.Fatal(err)
	}
	wc, wm := p.WrapCatalog(cat), p.WrapMarkets(mk)

	// Canceled while stalled: returns ctx.Err() promptly. "Promptly" is
	// checked against the 1h stall, so scheduling noise cannot fail it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = wc.BasePrice(ctx, []byte("P-1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("BasePrice error = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("BasePrice took %v after its deadline", took)
	}

	// Already canceled: no wait at all.
	done, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := wm.Multiplier(done, []byte("NY")); !errors.Is(err, context.Canceled) {
		t.Errorf("Multiplier error = %v, want Canceled", err)
	}
}

func TestProfileInjectsErrors(t *testing.T) {
	cat, mk := memory(t)
	p, err := ParseProfile("fault:err=1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.WrapCatalog(cat).BasePrice(context.Background(), []byte("P-1"))
	if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), `cannot look up product "P-1"`) {
		t.Errorf("BasePrice error = %v, want injected", err)
	}
	_, err = p.WrapMarkets(mk).Multiplier(context.Background(), []byte("NY"))
	if !errors.Is(err, ErrInjected) {
		t.Errorf("Multiplier error = %v, want injected", err)
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, s := range []string{"none", "seed", "fault:err=0.1,stall=0.05,stalldur=2s", "seed:catalog=1ms-2ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProfile(s)
		if err != nil {
			return
		}
		for _, r := range []Range{p.Catalog, p.Market} {
			if r.Min < 0 || r.Max < r.Min || r.Max > maxProfileDelay {
				t.Fatalf("ParseProfile(%q) accepted range %v", s, r)
			}
		}
		if p.ErrRate < 0 || p.ErrRate > 1 || p.StallRate < 0 || p.StallRate > 1 || (p.StallRate > 0 && p.StallDur <= 0) {
			t.Fatalf("ParseProfile(%q) = %+v", s, p)
		}
		if p.String() != s {
			t.Fatalf("String() = %q, want %q", p.String(), s)
		}
	})
}
