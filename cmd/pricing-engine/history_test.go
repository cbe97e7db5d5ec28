package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// TestRepriceAfterAdminWrite: a governed write's new prices are recorded
// in today's history without a customer asking for them: the product's
// pairs after a base price write, the location's after a market write.
func TestRepriceAfterAdminWrite(t *testing.T) {
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	st := lookup.NewMemoryStore(cat, mk, lookup.MemoryStoreOptions{})
	m := history.NewMerger(history.MergerConfig{})
	engine := pricing.NewEngine(st, pricing.Config{History: m})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rp := newRepricer(engine, m, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rp.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	w := recordingWriter{Writer: st, wrote: rp.wrote}

	x := engine.NewExchange(nil)
	for _, body := range []string{`{"product_id":"P-1","user_location":"NY"}`, `{"product_id":"P-2","user_location":"NY"}`, `{"product_id":"P-1","user_location":"LA"}`} {
		engine.Price(x, []byte(body))
	}
	low := func(p, l string) string {
		m.Merge(ctx, time.Now())
		return m.Lookup(p, l, history.DayOf(time.Now())).Price.String()
	}
	if got := low("P-1", "NY"); got != "56.089" {
		t.Fatalf("P-1 x NY = %s before the writes, want 56.089", got)
	}
	write := func(ref lookup.Ref, v string) {
		t.Helper()
		out, err := w.Write(ctx, &lookup.Write{Ref: ref, Value: v, Actor: "test"})
		if err != nil || out.Status != lookup.WriteUpdated {
			t.Fatalf("write %v = %v, %+v", ref, err, out)
		}
	}
	write(lookup.Ref{Kind: lookup.KindProduct, ID: "P-1"}, "10.00")
	waitFor(t, 5*time.Second, "P-1's new prices recorded", func() bool {
		return low("P-1", "NY") == "11" && low("P-1", "LA") == "10.5"
	})
	if got := low("P-2", "NY"); got != "57.189" {
		t.Errorf("P-2 x NY = %s, want 57.189 (not written)", got)
	}
	write(lookup.Ref{Kind: lookup.KindMarket, ID: "NY"}, "0.5")
	waitFor(t, 5*time.Second, "NY's new prices recorded", func() bool {
		return low("P-1", "NY") == "5" && low("P-2", "NY") == "25.995"
	})
	if got := low("P-1", "LA"); got != "10.5" {
		t.Errorf("P-1 x LA = %s, want 10.5 (not written)", got)
	}
}
