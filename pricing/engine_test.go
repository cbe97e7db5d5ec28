package pricing

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

func defaultLookups(t testing.TB) (*lookup.MemoryCatalog, *lookup.MemoryMarkets) {
	t.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat, mk
}

// fake is a Catalog and Markets whose behaviour each test scripts. Both
// methods run hook (if any), which must honour ctx, then answer value or
// err.
type fake struct {
	hook  func(ctx context.Context) error
	value money.Decimal
	err   error
}

func (f *fake) answer(ctx context.Context) (money.Decimal, error) {
	if f.hook != nil {
		if err := f.hook(ctx); err != nil {
			return money.Decimal{}, err
		}
	}
	return f.value, f.err
}

func (f *fake) BasePrice(ctx context.Context, _ []byte) (money.Decimal, error) { return f.answer(ctx) }
func (f *fake) Multiplier(ctx context.Context, _ []byte) (money.Decimal, error) {
	return f.answer(ctx)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(d time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stall blocks until ctx ends.
func stall(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func request(pid, loc string, member bool) *Request {
	return &Request{ProductID: []byte(pid), Location: []byte(loc), Member: member}
}

func TestPriceInline(t *testing.T) {
	cat, mk := defaultLookups(t)
	e := NewEngine(cat, mk, Config{})
	if !e.Inline() {
		t.Fatal("memory lookups are not inline")
	}
	tests := []struct {
		pid, loc string
		member   bool
		want     string
	}{
		// The contract's example: 49.99 x 0.95 x 0.95 = 45.115975 -> 45.12.
		{"P-0", "MIA", true, `{"product_id":"P-0","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`},
		// 52.99 x 1.10 = 58.289 -> 58.29
		{"P-123", "NY", false, `{"product_id":"P-123","final_price":58.29,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`},
		// 54.99 x 1.05 x 0.95 = 54.852525 -> 54.85
		{"P-5", "LA", true, `{"product_id":"P-5","final_price":54.85,"base_price":54.99,"market_multiplier":1.05,"discount_rate":0.05,"source":"live"}`},
		// unknown location: the "*" row, 1
		{"P-9", "XX", false, `{"product_id":"P-9","final_price":58.99,"base_price":58.99,"market_multiplier":1,"discount_rate":0,"source":"live"}`},
	}
	var q Quote
	for _, tt := range tests {
		r := request(tt.pid, tt.loc, tt.member)
		if err := e.PriceInline(r, &q); err != nil {
			t.Errorf("PriceInline(%s, %s): %v", tt.pid, tt.loc, err)
			continue
		}
		if got := string(AppendQuote(nil, &q)); got != tt.want {
			t.Errorf("PriceInline(%s, %s) =\n %s\nwant\n %s", tt.pid, tt.loc, got, tt.want)
		}
		// Price must agree with PriceInline.
		var q2 Quote
		if err := e.Price(context.Background(), r, &q2); err != nil || string(AppendQuote(nil, &q2)) != tt.want {
			t.Errorf("Price(%s, %s) = %s, %v", tt.pid, tt.loc, AppendQuote(nil, &q2), err)
		}
	}
}

func TestNotFound(t *testing.T) {
	cat, mk := defaultLookups(t)
	e := NewEngine(cat, mk, Config{})
	const want = `{"detail":"unknown product_id \"P-X\""}`
	for name, price := range map[string]func(*Request, *Quote) error{
		"PriceInline": e.PriceInline,
		"Price":       func(r *Request, q *Quote) error { return e.Price(context.Background(), r, q) },
	} {
		err := price(request("P-X", "NY", false), &Quote{})
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != StatusNotFound || pe.RetryAfter != 0 {
			t.Errorf("%s: error = %v, want 404", name, err)
			continue
		}
		if got := string(pe.AppendJSON(nil)); got != want {
			t.Errorf("%s: body = %s, want %s", name, got, want)
		}
	}
}

func TestPriceInlineRefusedWhenBlocking(t *testing.T) {
	cat, mk := defaultLookups(t)
	p, _ := lookup.ParseProfile("seed")
	e := NewEngine(p.WrapCatalog(cat), mk, Config{})
	if e.Inline() {
		t.Fatal("a profiled catalog is inline")
	}
	var pe *Error
	if err := e.PriceInline(request("P-1", "NY", false), &Quote{}); !errors.As(err, &pe) || pe.Status != StatusInternalServerError {
		t.Errorf("PriceInline on blocking lookups = %v, want 500", err)
	}
}

// TestPriceConcurrent proves the lookups overlap without timing: each
// lookup waits until the other one has started. Run one after the other,
// the first would wait for the deadline and fail.
func TestPriceConcurrent(t *testing.T) {
	catStarted, mkStarted := make(chan struct{}), make(chan struct{})
	meet := func(mine, other chan struct{}) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	cat := &fake{hook: meet(catStarted, mkStarted), value: money.New(4999, 2)}
	mk := &fake{hook: meet(mkStarted, catStarted), value: money.New(95, 2)}
	e := NewEngine(cat, mk, Config{Deadline: 10 * time.Second})
	var q Quote
	if err := e.Price(context.Background(), request("P-0", "MIA", true), &q); err != nil {
		t.Fatalf("Price: %v", err)
	}
	if q.Final.String() != "45.12" {
		t.Errorf("final = %s, want 45.12", q.Final)
	}
}

// TestPriceTakesMax measures the overlap: two 60 ms lookups one after the
// other take at least 120 ms, so finishing under 120 ms proves they ran
// concurrently; the bound leaves 60 ms for scheduling noise.
func TestPriceTakesMax(t *testing.T) {
	const each = 60 * time.Millisecond
	cat := &fake{hook: sleepCtx(each), value: money.New(4999, 2)}
	mk := &fake{hook: sleepCtx(each), value: money.New(1, 0)}
	e := NewEngine(cat, mk, Config{})
	start := time.Now()
	if err := e.Price(context.Background(), request("P-0", "CHI", false), &Quote{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < each || took >= 2*each {
		t.Errorf("Price took %v; want max(%v, %v) = %v, below their sum", took, each, each, each)
	}
}

func TestPriceErrors(t *testing.T) {
	ok := &fake{value: money.New(1, 0)}
	boom := errors.New("connection refused")
	tests := []struct {
		name     string
		cat      lookup.Catalog
		mk       lookup.Markets
		want     string
		outcomes map[string]string // lookup -> outcome reported to Observe
	}{
		{"catalog timeout", &fake{hook: stall}, ok, `{"detail":"catalog lookup timed out"}`,
			map[string]string{LookupCatalog: OutcomeTimeout, LookupMarket: OutcomeOK}},
		{"market timeout", ok, &fake{hook: stall}, `{"detail":"market lookup timed out"}`,
			map[string]string{LookupCatalog: OutcomeOK, LookupMarket: OutcomeTimeout}},
		{"catalog failure", &fake{err: boom}, ok, `{"detail":"catalog lookup failed"}`,
			map[string]string{LookupCatalog: OutcomeError}},
		{"market failure", ok, &fake{err: boom}, `{"detail":"market lookup failed"}`,
			map[string]string{LookupCatalog: OutcomeOK, LookupMarket: OutcomeError}},
		// The market lookup runs on the engine's own goroutine: a panic
		// there must become a failed lookup, not a crashed process.
		{"market panic", ok, &fake{hook: func(context.Context) error { panic("markets exploded") }}, `{"detail":"market lookup failed"}`,
			map[string]string{LookupCatalog: OutcomeOK, LookupMarket: OutcomeError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]string{}
			observe := func(name, outcome string, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				seen[name] = outcome
			}
			e := NewEngine(tt.cat, tt.mk, Config{Deadline: 20 * time.Millisecond, Observe: observe})
			err := e.Price(context.Background(), request("P-1", "NY", false), &Quote{})
			var pe *Error
			if !errors.As(err, &pe) || pe.Status != StatusServiceUnavailable || pe.RetryAfter != 1 {
				t.Fatalf("error = %v, want 503 with Retry-After 1", err)
			}
			if got := string(pe.AppendJSON(nil)); got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
			if tt.name != "market panic" && errors.Is(err, boom) != (tt.want == `{"detail":"catalog lookup failed"}` || tt.want == `{"detail":"market lookup failed"}`) {
				t.Errorf("cause not wrapped: %v", err)
			}
			// Outcomes reported from the market goroutine may land just
			// after Price returns; goleak in TestMain waits for it, and we
			// only check the ones Price itself has surely reported.
			mu.Lock()
			defer mu.Unlock()
			if got := seen[LookupCatalog]; got != tt.outcomes[LookupCatalog] {
				t.Errorf("catalog outcome = %q, want %q", got, tt.outcomes[LookupCatalog])
			}
		})
	}
}

func TestPriceCanceled(t *testing.T) {
	e := NewEngine(&fake{hook: stall}, &fake{hook: stall}, Config{Deadline: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Price(ctx, request("P-1", "NY", false), &Quote{}) }()
	cancel()
	err := <-done
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != StatusServiceUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want 503 wrapping context.Canceled", err)
	}
}

// TestPriceSeedProfile runs the real seed profile: each request takes
// between the larger of the two minimum delays and the deadline.
func TestPriceSeedProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps up to 50 ms per request")
	}
	cat, mk := defaultLookups(t)
	p, err := lookup.ParseProfile("seed")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(p.WrapCatalog(cat), p.WrapMarkets(mk), Config{})
	var q Quote
	for range 5 {
		start := time.Now()
		if err := e.Price(context.Background(), request("P-0", "MIA", true), &q); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 20*time.Millisecond {
			t.Errorf("seed request took %v, less than the 20 ms market minimum", took)
		}
		if q.Final.String() != "45.12" {
			t.Errorf("final = %s", q.Final)
		}
	}
}
