package redisstore

import (
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
)

// TestTracedCallsNoteTheirRoundTrip: the Calls of one Flush share one
// round trip; a traced Call gets it in Trip (one id, its times, its keys
// and Calls), an untraced one does not, and a later round trip has
// another id.
func TestTracedCallsNoteTheirRoundTrip(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	seed(t, srv)
	s := open(t, Options{URL: srv.URL()})
	b := s.NewBatcher()
	done := make(chan *lookup.Call, 3)
	call := func(product string, traced bool) *lookup.Call {
		return &lookup.Call{ProductID: []byte(product), Location: []byte("NY"), Deadline: time.Now().Add(time.Second),
			Done: func(c *lookup.Call) { done <- c }, Traced: traced}
	}
	before := time.Now().UnixNano()
	traced, other, plain := call("P-1", true), call("P-2", true), call("P-1", false)
	for _, c := range []*lookup.Call{traced, other, plain} {
		if b.Lookup(c) {
			t.Fatal("answered from a cold cache")
		}
	}
	b.Flush()
	for range 3 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("lookups not answered")
		}
	}
	tr := traced.Trip
	if tr.ID == 0 || tr != other.Trip || tr.Start < before || tr.End < tr.Start || tr.Keys < 3 || tr.Calls != 3 {
		t.Fatalf("trips %+v and %+v", tr, other.Trip)
	}
	if plain.Trip != (lookup.Trip{}) || plain.Err != nil {
		t.Fatalf("untraced call noted %+v (err %v)", plain.Trip, plain.Err)
	}
	next := call("P-404", true)
	if b.Lookup(next) {
		t.Fatal("unknown product answered from the cache")
	}
	b.Flush()
	<-done
	if next.Trip.ID == 0 || next.Trip.ID == tr.ID {
		t.Fatalf("second round trip %+v, first %+v", next.Trip, tr)
	}
}
