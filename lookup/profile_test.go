package lookup

import (
	"errors"
	"strings"
	"sync"
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
		d := r.Draw()
		if d < r.Min || d > r.Max {
			t.Fatalf("Draw() = %v, outside [%v, %v]", d, r.Min, r.Max)
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
	if d := (Range{7, 7}).Draw(); d != 7 {
		t.Errorf("fixed range drew %v", d)
	}
}

func memory(t *testing.T) *Memory {
	t.Helper()
	return &Memory{
		Catalog: &MemoryCatalog{prices: map[string]money.Decimal{"P-1": money.New(4999, 2)}},
		Markets: newMemoryMarkets(map[string]money.Decimal{"NY": money.New(110, 2)}),
	}
}

// await looks c up on b, flushes, and waits (bounded) for its Done.
func await(t *testing.T, b Batcher, c *Call) {
	t.Helper()
	done := make(chan struct{}, 1)
	c.Done = func(*Call) { done <- struct{}{} }
	if b.Lookup(c) {
		t.Fatal("a profiled Lookup answered at once")
	}
	b.Flush()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Done not called within 10s")
	}
}

func TestProfileWrapping(t *testing.T) {
	src := memory(t)
	none, _ := ParseProfile("none")
	if none.Wrap(src) != Source(src) {
		t.Error("the none profile wrapped its source")
	}
	seed, _ := ParseProfile("seed")
	if seed.Wrap(src).Instant() {
		t.Error("a wrapped source is instant")
	}
}

func TestProfileDrawTakesMax(t *testing.T) {
	p, err := ParseProfile("none:catalog=20ms,market=40ms")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Wrap(memory(t)).(*profiled)
	for range 100 {
		if d, err := s.draw(); d != 40*time.Millisecond || err != nil {
			t.Fatalf("draw() = %v, %v; want the longer delay, 40ms, concurrent lookups", d, err)
		}
	}
}

func TestProfileDelay(t *testing.T) {
	const delay = 30 * time.Millisecond
	p, err := ParseProfile("none:catalog=30ms,market=10ms")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Wrap(memory(t)).NewBatcher()
	for _, tt := range []struct {
		pid, loc string
		base     string
		mult     string
		notFound bool
	}{{"P-1", "NY", "49.99", "1.1", false}, {"P-1", "LA", "49.99", "1", false}, {"P-2", "NY", "", "", true}} {
		c := &Call{ProductID: []byte(tt.pid), Location: []byte(tt.loc), Deadline: time.Now().Add(time.Hour)}
		start := time.Now()
		await(t, b, c)
		if took := time.Since(start); took < delay {
			t.Errorf("%s/%s answered after %v, before its %v delay", tt.pid, tt.loc, took, delay)
		}
		if tt.notFound {
			if !errors.Is(c.Err, ErrNotFound) {
				t.Errorf("unknown product through a profile: %v", c.Err)
			}
			continue
		}
		if c.Err != nil || c.Base.String() != tt.base || c.Mult.String() != tt.mult {
			t.Errorf("%s/%s = %v, %v, %v", tt.pid, tt.loc, c.Base, c.Mult, c.Err)
		}
	}
}

func TestProfileDeadline(t *testing.T) {
	p, err := ParseProfile("fault:stall=1,stalldur=1h")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Wrap(memory(t)).NewBatcher()
	// Stalled for an hour: the Call completes at its deadline with
	// ErrTimeout. "Promptly" is checked against the 1h stall, so
	// scheduling noise cannot fail it.
	start := time.Now()
	c := &Call{ProductID: []byte("P-1"), Location: []byte("NY"), Deadline: start.Add(20 * time.Millisecond)}
	await(t, b, c)
	if !errors.Is(c.Err, ErrTimeout) {
		t.Errorf("stalled Call error = %v, want ErrTimeout", c.Err)
	}
	if took := time.Since(start); took < 20*time.Millisecond || took > 10*time.Second {
		t.Errorf("stalled Call completed after %v, want at its 20ms deadline", took)
	}
	// A deadline already passed: completes at once with ErrTimeout.
	c = &Call{ProductID: []byte("P-1"), Location: []byte("NY"), Deadline: time.Now().Add(-time.Second)}
	await(t, b, c)
	if !errors.Is(c.Err, ErrTimeout) {
		t.Errorf("late Call error = %v, want ErrTimeout", c.Err)
	}
}

func TestProfileInjectsErrors(t *testing.T) {
	p, err := ParseProfile("fault:err=1")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Wrap(memory(t)).NewBatcher()
	c := &Call{ProductID: []byte("P-1"), Location: []byte("NY")}
	await(t, b, c)
	if !errors.Is(c.Err, ErrInjected) || !errors.Is(c.Err, ErrUnavailable) || !strings.Contains(c.Err.Error(), "cannot look up") {
		t.Errorf("Call error = %v, want injected and unavailable", c.Err)
	}
}

// TestProfileManyCalls completes many Calls with spread due times from
// several batches, each exactly once; the timer goroutine ends once the
// heap is empty (goleak checks it in TestMain).
func TestProfileManyCalls(t *testing.T) {
	p, err := ParseProfile("none:catalog=0-20ms,market=0-5ms")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Wrap(memory(t)).NewBatcher()
	const n = 2000
	calls := make([]Call, n)
	var mu sync.Mutex
	seen := make(map[*Call]int, n)
	all := make(chan struct{})
	for i := range calls {
		c := &calls[i]
		c.ProductID, c.Location = []byte("P-1"), []byte("NY")
		c.Deadline = time.Now().Add(time.Minute)
		c.Done = func(c *Call) {
			mu.Lock()
			seen[c]++
			if len(seen) == n {
				close(all)
			}
			mu.Unlock()
		}
		if b.Lookup(c) {
			t.Fatal("answered at once")
		}
		if i%100 == 99 {
			b.Flush()
		}
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d of %d Calls completed", len(seen), n)
	}
	mu.Lock()
	defer mu.Unlock()
	for c, k := range seen {
		if k != 1 || c.Err != nil || c.Base.String() != "49.99" {
			t.Fatalf("Call done %d times, err %v, base %v", k, c.Err, c.Base)
		}
	}
}

func TestTimerHeapOrder(t *testing.T) {
	var h timerHeap
	for _, d := range []time.Duration{5, 3, 9, 1, 7, 3, 8, 2} {
		h.push(timerEntry{due: d})
	}
	prev := time.Duration(-1)
	for len(h) > 0 {
		e := h.pop()
		if e.due < prev {
			t.Fatalf("popped %v after %v", e.due, prev)
		}
		prev = e.due
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

// TestProfilePump: with a pump, the timer goroutine completes nothing
// itself: it asks for a Flush (once for the Calls due together), and the
// Calls complete inside the owner's Flush, answered when they were due.
// A pump that reports its owner stopped makes the goroutine complete them.
func TestProfilePump(t *testing.T) {
	const delay, n = 20 * time.Millisecond, 50
	p, err := ParseProfile("none:catalog=20ms")
	if err != nil {
		t.Fatal(err)
	}
	for _, stopped := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "stopped"}[stopped], func(t *testing.T) {
			b := p.Wrap(memory(t)).NewBatcher()
			pumps := make(chan struct{}, n)
			b.(Pumped).SetPump(func() bool {
				pumps <- struct{}{}
				return !stopped
			})
			var inFlush bool // read in Done: on this goroutine unless stopped
			done := make(chan bool, n)
			start := time.Now()
			for range n {
				c := &Call{ProductID: []byte("P-1"), Location: []byte("NY"), Deadline: start.Add(time.Hour)}
				c.Done = func(c *Call) {
					if c.Answered.Before(start.Add(delay)) || c.Err != nil {
						t.Errorf("answered %v after the start (due after %v), err %v", c.Answered.Sub(start), delay, c.Err)
					}
					done <- inFlush
				}
				if b.Lookup(c) {
					t.Fatal("a profiled Lookup answered at once")
				}
			}
			if b.(Keeper).Kept() {
				t.Error("a pumped profile keeps Calls for Flush")
			}
			got, npumps := 0, 0
			for got < n {
				select {
				case <-pumps:
					npumps++
					if !stopped {
						inFlush = true
						b.Flush()
						inFlush = false
					}
				case fromFlush := <-done:
					got++
					if fromFlush == stopped {
						t.Errorf("a Call completed in Flush %v, with the owner stopped %v", fromFlush, stopped)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of %d Calls completed after %d pumps", got, n, npumps)
				}
			}
			// The Calls were due within a millisecond of each other: the
			// goroutine woke once or twice for them (timerSlack).
			if npumps == 0 || npumps > 5 {
				t.Errorf("%d pumps for %d Calls due together", npumps, n)
			}
		})
	}
}

// flushSource is a slow Source whose Batcher, like a networked store's,
// sends the Calls it keeps only on Flush and answers them later from a
// goroutine of its own.
type flushSource struct{ m *Memory }

func (s flushSource) Instant() bool       { return false }
func (s flushSource) NewBatcher() Batcher { return &flushBatcher{m: s.m.NewBatcher()} }

type flushBatcher struct {
	m       Batcher
	pending []*Call
}

func (b *flushBatcher) Lookup(c *Call) bool {
	b.pending = append(b.pending, c)
	return false
}

func (b *flushBatcher) Flush() {
	sent := b.pending
	b.pending = nil
	go func() {
		for _, c := range sent {
			b.m.Lookup(c)
			c.Done(c)
		}
	}()
}

func (b *flushBatcher) Kept() bool { return len(b.pending) > 0 }

// TestProfileKeptBySlowInner: a pumped profile over a source that sends
// only on Flush reports the Calls as kept, so that its owner flushes them
// (otherwise they never leave), and they complete.
func TestProfileKeptBySlowInner(t *testing.T) {
	p, err := ParseProfile("none:catalog=1ms")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Wrap(flushSource{m: memory(t)}).NewBatcher()
	pumps := make(chan struct{}, 8)
	b.(Pumped).SetPump(func() bool {
		select {
		case pumps <- struct{}{}:
		default:
		}
		return true
	})
	done := make(chan error, 1)
	c := &Call{ProductID: []byte("P-1"), Location: []byte("NY"), Deadline: time.Now().Add(time.Hour)}
	c.Done = func(c *Call) { done <- c.Err }
	if b.Lookup(c) {
		t.Fatal("a profiled Lookup answered at once")
	}
	if !b.(Keeper).Kept() {
		t.Fatal("Kept is false while the inner source holds the Call until Flush")
	}
	b.Flush()
	for {
		select {
		case <-pumps:
			b.Flush()
		case err := <-done:
			if err != nil {
				t.Fatalf("Call completed with %v", err)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("the Call did not complete within 10s")
		}
	}
}
