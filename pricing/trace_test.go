package pricing

import (
	"testing"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/rules"
)

// tripSource answers the Calls of one Flush together and, like a
// networked store, notes that round trip (numbered from 1) on the traced
// ones; it records whether each Call asked to be traced.
type tripSource struct {
	syncSource
	traced []bool
	trips  uint64
	calls  int // Calls of the current Flush
}

func newTripSource() *tripSource {
	s := &tripSource{}
	s.flushed = func(calls []*lookup.Call) { s.trips, s.calls = s.trips+1, len(calls) }
	s.answer = func(c *lookup.Call) {
		c.Base, c.Mult = money.New(5000, 2), money.New(1, 0)
		s.traced = append(s.traced, c.Traced)
		if c.Traced {
			c.Trip = lookup.Trip{ID: s.trips, Start: 10, End: 20, Keys: 3, Calls: s.calls}
		}
	}
	return s
}

// TestTraceNotes: a traced request's exchange notes its inputs, source,
// rules evaluation and round trip; a batch notes each round trip once;
// an untraced request does not ask the store to note anything.
func TestTraceNotes(t *testing.T) {
	src := newTripSource()
	rs := parseRules(t, testRules)
	e := NewEngine(src, Config{Rules: func() *rules.Ruleset { return rs }})
	l := e.NewLoop()
	x := e.NewExchange(nil).(*Exchange)

	x.Trace().On = true
	loopServe(t, l, x, `{"product_id":"P-7","user_location":"NY"}`, false)
	n := x.Trace()
	if x.Status != 200 || string(n.ProductID) != "P-7" || string(n.Location) != "NY" || n.Source != SourceLive || n.Cached ||
		n.RulesAt == 0 || n.RulesVersion != "t1" || n.NTrips != 1 || n.Trips[0].ID != 1 || n.Trips[0].Keys != 3 {
		t.Fatalf("notes %+v (status %d)", *n, x.Status)
	}

	x.Trace().On = false
	loopServe(t, l, x, `{"product_id":"P-8","user_location":"NY"}`, false)
	if src.traced[len(src.traced)-1] {
		t.Fatal("an untraced request's Call asked to be traced")
	}

	x.Trace().On = true
	loopServe(t, l, x, `{"items":[{"product_id":"P-1","user_location":"NY"},{"product_id":"P-2","user_location":"SF"}]}`, true)
	if n := x.Trace(); n.NTrips != 1 || n.Trips[0].ID != 3 || n.Trips[0].Calls != 2 || n.ProductID != nil || n.Source != "" || n.RulesAt == 0 {
		t.Fatalf("batch notes %+v", *n)
	}
	if !src.traced[len(src.traced)-1] || !src.traced[len(src.traced)-2] {
		t.Fatal("a traced batch's items did not ask to be traced")
	}
}

// cachedBatcher answers every Call at once, as a store's client-side
// cache does, for a Source that is not Instant.
type cachedBatcher struct{}

func (cachedBatcher) Lookup(c *lookup.Call) bool {
	c.Base, c.Mult = money.New(5000, 2), money.New(1, 0)
	return true
}

func (cachedBatcher) Flush() {}

type cachedSource struct{}

func (cachedSource) Instant() bool              { return false }
func (cachedSource) NewBatcher() lookup.Batcher { return cachedBatcher{} }

// TestTraceNotesCached: an answer at once from a store that may block is
// noted as cached, without a round trip; from an instant source it is not.
func TestTraceNotesCached(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    lookup.Source
		cached bool
	}{{"client-side cache", cachedSource{}, true}, {"memory", memorySource(t), false}} {
		e := NewEngine(tc.src, Config{})
		x := e.NewExchange(nil).(*Exchange)
		x.Trace().On = true
		if loopServe(t, e.NewLoop(), x, `{"product_id":"P-1","user_location":"NY"}`, false) != 0 {
			t.Fatalf("%s: not answered at once", tc.name)
		}
		if n := x.Trace(); n.Cached != tc.cached || n.NTrips != 0 || n.Source != SourceLive {
			t.Fatalf("%s: notes %+v", tc.name, *n)
		}
	}
}
