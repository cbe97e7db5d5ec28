package pricing

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
)

func memorySource(t testing.TB) *lookup.Memory {
	t.Helper()
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &lookup.Memory{Catalog: cat, Markets: mk}
}

// fakeSource answers every Call with answer; async makes it keep the Call
// and complete it on another goroutine at the next Flush.
type fakeSource struct {
	answer func(c *lookup.Call)
	async  bool
}

func (f *fakeSource) Instant() bool              { return !f.async }
func (f *fakeSource) NewBatcher() lookup.Batcher { return &fakeBatcher{f: f} }

type fakeBatcher struct {
	f    *fakeSource
	kept []*lookup.Call
}

func (b *fakeBatcher) Lookup(c *lookup.Call) bool {
	b.f.answer(c)
	if !b.f.async {
		return true
	}
	b.kept = append(b.kept, c)
	return false
}

func (b *fakeBatcher) Flush() {
	for _, c := range b.kept {
		go c.Done(c)
	}
	b.kept = b.kept[:0]
}

func request(pid, loc string, member bool) *Request {
	return &Request{ProductID: []byte(pid), Location: []byte(loc), Member: member}
}

// priceBoth prices r through Begin (the loop's path) and through Wait (the
// blocking path) and checks that they agree; it returns the Begin reply.
func priceBoth(t *testing.T, e *Engine, r *Request) (int, int, string) {
	t.Helper()
	var x Exchange
	x.Req = *r
	done := make(chan struct{}, 1)
	x.Done = func(*Exchange) { done <- struct{}{} }
	b := e.src.NewBatcher()
	if !e.begin(&x, b, time.Now()) {
		b.Flush()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Done not called within 10s")
		}
		e.complete(&x)
	}
	var y Exchange
	y.Req = *r
	e.Wait(&y)
	if x.Status != y.Status || x.RetryAfter != y.RetryAfter || string(x.Body) != string(y.Body) {
		t.Errorf("Begin/Complete = %d %d %s, Wait = %d %d %s", x.Status, x.RetryAfter, x.Body, y.Status, y.RetryAfter, y.Body)
	}
	return x.Status, x.RetryAfter, string(x.Body)
}

func TestPrice(t *testing.T) {
	mem := memorySource(t)
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
	for _, src := range []lookup.Source{mem, &fakeSource{answer: mem.Answer, async: true}} {
		e := NewEngine(src, Config{})
		if e.Instant() != src.Instant() {
			t.Errorf("Instant() = %v, source says %v", e.Instant(), src.Instant())
		}
		for _, tt := range tests {
			status, retry, body := priceBoth(t, e, request(tt.pid, tt.loc, tt.member))
			if status != 200 || retry != 0 || body != tt.want {
				t.Errorf("instant=%v %s/%s = %d %d\n %s\nwant\n %s", src.Instant(), tt.pid, tt.loc, status, retry, body, tt.want)
			}
		}
	}
}

func TestPriceErrors(t *testing.T) {
	mem := memorySource(t)
	with := func(err error, stale bool) func(c *lookup.Call) {
		return func(c *lookup.Call) {
			mem.Answer(c)
			if err != nil {
				c.Err = err
			}
			c.Stale = stale
		}
	}
	tests := []struct {
		name   string
		pid    string
		answer func(c *lookup.Call)
		status int
		retry  int
		body   string
		obs    string
	}{
		{"unknown product", "P-X", mem.Answer, 404, 0, `{"detail":"unknown product_id \"P-X\""}`, OutcomeNotFound},
		{"invalid stored value", "P-1", with(&lookup.InvalidValueError{Key: "pricing:product:P-1"}, false), 502, 0,
			`{"detail":"store value for pricing:product:P-1 is invalid"}`, OutcomeError},
		{"timeout", "P-1", with(lookup.ErrTimeout, false), 503, 1, `{"detail":"lookup timed out"}`, OutcomeTimeout},
		{"unavailable", "P-1", with(fmt.Errorf("cannot reach store: %w", lookup.ErrUnavailable), false), 503, 1, `{"detail":"lookup failed"}`, OutcomeError},
		{"any other error", "P-1", with(errors.New("boom"), false), 503, 1, `{"detail":"lookup failed"}`, OutcomeError},
		{"stale", "P-1", with(nil, true), 200, 0,
			`{"product_id":"P-1","final_price":50.99,"base_price":50.99,"market_multiplier":1,"discount_rate":0,"source":"stale"}`, OutcomeOK},
	}
	for _, tt := range tests {
		var mu sync.Mutex
		var seen []string
		e := NewEngine(&fakeSource{answer: tt.answer, async: true}, Config{Observe: func(l, o string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, l+"/"+o)
		}})
		status, retry, body := priceBoth(t, e, request(tt.pid, "CHI", false))
		if status != tt.status || retry != tt.retry || body != tt.body {
			t.Errorf("%s: %d %d %s, want %d %d %s", tt.name, status, retry, body, tt.status, tt.retry, tt.body)
		}
		mu.Lock()
		if want := LookupCall + "/" + tt.obs; len(seen) != 2 || seen[0] != want || seen[1] != want {
			t.Errorf("%s: observed %v, want %s twice", tt.name, seen, want)
		}
		mu.Unlock()
	}
}

func TestInstantAnswersAreNotTimed(t *testing.T) {
	calls := 0
	e := NewEngine(memorySource(t), Config{Observe: func(string, string, time.Duration) { calls++ }})
	priceBoth(t, e, request("P-1", "NY", false))
	if calls != 0 {
		t.Errorf("Observe called %d times for in-memory answers", calls)
	}
}

func TestServeDecodeErrors(t *testing.T) {
	e := NewEngine(memorySource(t), Config{})
	var dec Decoder
	for _, tt := range []struct {
		body   string
		status int
		prefix string
	}{
		{`{"product_id":"P-1",`, 400, `{"detail":"invalid JSON`},
		{`{"product_id":"","user_location":"NY"}`, 422, `{"detail":[{"type":"string_too_short"`},
		{`{"product_id":"P-1","user_location":"NY"}`, 200, `{"product_id":"P-1"`},
	} {
		var x Exchange
		if !e.serve(&x, &dec, e.src.NewBatcher(), []byte(tt.body), time.Now()) {
			t.Fatalf("Serve(%s) kept the request on an instant source", tt.body)
		}
		if x.Status != tt.status || !strings.HasPrefix(string(x.Body), tt.prefix) {
			t.Errorf("Serve(%s) = %d %s", tt.body, x.Status, x.Body)
		}
		var y Exchange
		e.ServeWait(&y, &dec, []byte(tt.body))
		if y.Status != x.Status || string(y.Body) != string(x.Body) {
			t.Errorf("ServeWait(%s) = %d %s, Serve = %d %s", tt.body, y.Status, y.Body, x.Status, x.Body)
		}
	}
}

// TestDeadlineFromArrival checks that the Call's deadline counts from when
// the request arrived, not from when the lookups start. (The fake reads it
// in Lookup, before it keeps the Call: only sources that wait get one.)
func TestDeadlineFromArrival(t *testing.T) {
	var got time.Time
	src := &fakeSource{answer: func(c *lookup.Call) { got = c.Deadline; memorySource(t).Answer(c) }, async: true}
	e := NewEngine(src, Config{Deadline: 250 * time.Millisecond})
	arrived := time.Now().Add(-time.Second)
	var x Exchange
	x.Req = *request("P-1", "NY", false)
	e.begin(&x, e.src.NewBatcher(), arrived)
	if want := arrived.Add(250 * time.Millisecond); !got.Equal(want) {
		t.Errorf("deadline %v, want arrival + 250ms = %v", got, want)
	}
	if e.Deadline() != 250*time.Millisecond || NewEngine(memorySource(t), Config{}).Deadline() != DefaultDeadline {
		t.Error("Deadline() does not report the configured deadline or the default")
	}
}
