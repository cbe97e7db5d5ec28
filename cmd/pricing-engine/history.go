package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/internal/jsonstr"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/pricer"
)

// historyRuntime is the price history at run time: the merger every
// event loop records on, shared through the Redis store when that is the
// data source (in process for the memory store).
type historyRuntime struct {
	merger   *history.Merger
	repricer *repricer // re-prices what admin writes change; nil until set
	log      *slog.Logger

	sharedErrors atomic.Uint64
	sharedLog    logThrottle
}

// newHistory builds the history merger over src and registers its
// metrics.
func newHistory(src lookup.Source, log *slog.Logger, mset *metrics.Set) *historyRuntime {
	rt := &historyRuntime{log: log}
	cfg := history.MergerConfig{OnSharedError: rt.sharedError}
	cfg.Shared = sharedHistory(src)
	rt.merger = history.NewMerger(cfg)
	metrics.NewHistory(mset.Registry, rt.stats)
	return rt
}

func (rt *historyRuntime) stats() metrics.HistoryStats {
	st := rt.merger.Stats()
	hs := metrics.HistoryStats{Keys: st.Keys, DroppedRecords: st.DroppedRecords, SharedErrors: rt.sharedErrors.Load(), Loaded: st.Loaded}
	if rt.repricer != nil {
		hs.RepriceDropped = rt.repricer.droppedTotal.Load()
	}
	return hs
}

// start merges until ctx ends: the first merge now (so that a replica
// reads the fleet's history at once), then every second.
func (rt *historyRuntime) start(ctx context.Context) {
	go func() {
		rt.merger.Merge(ctx, time.Now())
		rt.merger.Run(ctx)
	}()
	if rt.repricer != nil {
		go rt.repricer.run(ctx)
	}
}

// sharedError counts a failure of the shared history and logs at most one
// a minute (the merger retries at every merge). A store that has not
// connected yet is not logged: the store says so itself (readiness, its
// own log lines), and every start would otherwise warn.
func (rt *historyRuntime) sharedError(err error) {
	rt.sharedErrors.Add(1)
	if errors.Is(err, lookup.ErrUnavailable) {
		return
	}
	if rt.sharedLog.allow(time.Now()) {
		rt.log.Warn("price history: the shared store failed; values not sent are kept and retried", "err", err.Error())
	}
}

// sharedHistory returns the store's shared history, nil for the memory
// store (the history stays in process).
func sharedHistory(src lookup.Source) history.Shared {
	if st, ok := src.(*redisstore.Store); ok {
		return redisstore.NewHistoryStore(st)
	}
	return nil
}

// The Redis store's history is the merger's Shared (the store does not
// import package history, so the check is made here), and both keep the
// same days.
var (
	_ history.Shared = (*redisstore.HistoryStore)(nil)
	_ [history.Retention - lookup.HistoryDays]struct{}
	_ [lookup.HistoryDays - history.Retention]struct{}
)

// Re-pricing after admin writes: bounds and timing.
const (
	// repriceQueue bounds the admin writes waiting to be re-priced.
	repriceQueue = 4096
	// repriceMax bounds the product x location pairs one round re-prices.
	repriceMax = 10_000
	// repriceDelay is how long after a write its pairs are re-priced:
	// longer than the store's visibility bound (every replica serves a
	// write within 100 ms), so that the new value is the one priced.
	repriceDelay = 300 * time.Millisecond
)

// repricer records, the day an admin write changes a base price or a
// multiplier, the list prices it makes: it re-prices every product x
// location the history holds for the written product (or location; every
// pair for the default market) through the engine, which records them,
// so that a price in force for a moment counts as a price applied even
// when no customer asked for it then.
type repricer struct {
	engine  pricer.Engine
	merger  *history.Merger
	log     *slog.Logger
	queue   chan lookup.Ref
	dropped atomic.Uint64 // since the last warning
	// droppedTotal counts every write not queued, for the metrics.
	droppedTotal atomic.Uint64
}

func newRepricer(engine pricer.Engine, m *history.Merger, log *slog.Logger) *repricer {
	return &repricer{engine: engine, merger: m, log: log, queue: make(chan lookup.Ref, repriceQueue)}
}

// wrote queues ref for re-pricing; it never blocks (a full queue drops
// the write and counts it).
func (r *repricer) wrote(ref lookup.Ref) {
	select {
	case r.queue <- ref:
	default:
		r.dropped.Add(1)
		r.droppedTotal.Add(1)
	}
}

// run re-prices queued writes until ctx ends: the writes of repriceDelay
// together, repriceDelay after the first of them.
func (r *repricer) run(ctx context.Context) {
	for {
		var first lookup.Ref
		select {
		case <-ctx.Done():
			return
		case first = <-r.queue:
		}
		refs := map[lookup.Ref]bool{first: true}
		t := time.NewTimer(repriceDelay)
	gather:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case ref := <-r.queue:
				refs[ref] = true
			case <-t.C:
				break gather
			}
		}
		r.reprice(refs)
	}
}

// reprice prices every pair the written refs change, once.
func (r *repricer) reprice(refs map[lookup.Ref]bool) {
	pairs := map[[2]string]bool{}
	truncated := false
	for ref := range refs {
		product, location := ref.ID, ""
		if ref.Kind == lookup.KindMarket {
			product, location = "", ref.ID
			if ref.ID == lookup.DefaultMarket {
				location = "" // every location without a market of its own
			}
		}
		if r.merger.Pairs(product, location, repriceMax-len(pairs), func(p, l string) { pairs[[2]string{p, l}] = true }) {
			truncated = true
		}
	}
	if n := r.dropped.Swap(0); n > 0 {
		r.log.Warn("price history: admin writes arrived faster than they are re-priced; some were not (their prices are recorded when next served)", "dropped", n)
	}
	if truncated {
		r.log.Warn("price history: an admin write changes more prices than are re-priced at once; the others are recorded when next served", "repriced", len(pairs))
	}
	x := r.engine.NewExchange(nil)
	var body []byte
	for pl := range pairs {
		body = append(body[:0], `{"product_id":`...)
		body = jsonstr.Append(body, pl[0])
		body = append(body, `,"user_location":`...)
		body = jsonstr.Append(body, pl[1])
		body = append(body, '}')
		r.engine.Price(x, body) // records the list price through the merger
	}
}

// recordingWriter is a lookup.Writer that tells wrote about every write
// that changed a value.
type recordingWriter struct {
	lookup.Writer
	wrote func(lookup.Ref)
}

// Write implements [lookup.Writer].
func (w recordingWriter) Write(ctx context.Context, wr *lookup.Write) (lookup.Outcome, error) {
	out, err := w.Writer.Write(ctx, wr)
	if err == nil && !out.Replayed && (out.Status == lookup.WriteCreated || out.Status == lookup.WriteUpdated) {
		w.wrote(wr.Ref)
	}
	return out, err
}
