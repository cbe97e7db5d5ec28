package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/history"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
)

// historyRuntime is the price history at run time: the merger every
// event loop records on, shared through the Redis store when that is the
// data source (in process for the memory store).
type historyRuntime struct {
	merger *history.Merger
	log    *slog.Logger

	mu      sync.Mutex
	lastLog time.Time // last logged shared failure
}

// newHistory builds the history merger over src.
func newHistory(src lookup.Source, log *slog.Logger) *historyRuntime {
	rt := &historyRuntime{log: log}
	cfg := history.MergerConfig{OnSharedError: rt.sharedError}
	cfg.Shared = sharedHistory(src)
	rt.merger = history.NewMerger(cfg)
	return rt
}

// start merges until ctx ends: the first merge now (so that a replica
// reads the fleet's history at once), then every second.
func (rt *historyRuntime) start(ctx context.Context) {
	go func() {
		rt.merger.Merge(ctx, time.Now())
		rt.merger.Run(ctx)
	}()
}

// sharedError logs at most one failure of the shared history a minute
// (the merger retries at every merge).
func (rt *historyRuntime) sharedError(err error) {
	rt.mu.Lock()
	log := time.Since(rt.lastLog) >= time.Minute
	if log {
		rt.lastLog = time.Now()
	}
	rt.mu.Unlock()
	if log {
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
