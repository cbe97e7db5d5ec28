package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // schedules name IANA zones: do not depend on the host's zoneinfo

	"github.com/pricing-engine/pricing-engine/demand"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/metrics"
	"github.com/pricing-engine/pricing-engine/rules"
)

// rulesConfig is the --rules flag and, once loaded, the ruleset read at
// start.
type rulesConfig struct {
	path    string
	initial *rules.Ruleset // set by load
}

// register declares --rules on fs.
func (r *rulesConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&r.path, "rules", "", "pricing rules file (YAML or JSON: demand tiers, schedules, guards, endings; see docs/RULES.md); reloaded on SIGHUP and when it changes. Empty: the built-in formula")
}

// load reads and validates the rules file given at start. Its error lists
// every problem as file:line: key: reason.
func (r *rulesConfig) load() error {
	if r.path == "" {
		return nil
	}
	rs, err := rules.ReadFile(r.path)
	if err != nil {
		return fmt.Errorf("invalid --rules file:\n%w", err)
	}
	r.initial = rs
	return nil
}

// rulesRuntime is the rules at run time: the holder of the ruleset in
// use (reloaded on SIGHUP and file changes), the demand merger, their
// metrics and the admin /rules endpoint. Without --rules it holds no
// ruleset and the engine prices with the built-in formula.
type rulesRuntime struct {
	path     string
	log      *slog.Logger
	holder   *rules.Holder
	merger   *demand.Merger // nil without --rules
	applied  atomic.Uint64
	loadedAt atomic.Int64 // Unix nanoseconds
	sharedEr atomic.Uint64

	mu          sync.Mutex
	lastRefusal string

	sharedLog logThrottle
}

// newRules builds the rules runtime over the ruleset loaded at start and
// registers its metrics; src is the data source (its shared demand
// counters are used when it is the Redis store).
func newRules(cfg *rulesConfig, src lookup.Source, log *slog.Logger, mset *metrics.Set) *rulesRuntime {
	rt := &rulesRuntime{path: cfg.path, log: log}
	rt.holder = rules.NewHolder(cfg.initial, rules.HolderConfig{
		OnApplied: func(rs *rules.Ruleset) {
			rt.applied.Add(1)
			rt.loadedAt.Store(time.Now().UnixNano())
			log.Info("rules applied", "file", rs.Source, "version", rs.Version)
			rt.warnShared(rs, src)
		},
		OnRefused: func(err error) {
			rt.mu.Lock()
			rt.lastRefusal = err.Error()
			rt.mu.Unlock()
			log.Warn("rules reload refused; the old rules keep serving", "file", cfg.path, "reason", err.Error())
		},
	})
	if cfg.initial != nil {
		rt.applied.Add(1)
		rt.loadedAt.Store(time.Now().UnixNano())
		mcfg := demand.MergerConfig{Rules: rt.holder.Load, OnSharedError: rt.sharedError}
		if st, ok := src.(*redisstore.Store); ok {
			// Used only while the ruleset says demand.shared: true.
			mcfg.Shared = redisstore.NewDemandCounter(st)
		}
		rt.merger = demand.NewMerger(mcfg)
		rt.warnShared(cfg.initial, src)
	}
	metrics.NewRules(mset.Registry, rt.stats)
	return rt
}

// The Redis store's counter is the demand merger's SharedCounter: the
// store does not import package demand, so the check is made here.
var _ demand.SharedCounter = (*redisstore.DemandCounter)(nil)

// warnShared says when a ruleset asks for shared demand counts that the
// memory store cannot share.
func (rt *rulesRuntime) warnShared(rs *rules.Ruleset, src lookup.Source) {
	if _, redis := src.(*redisstore.Store); rs.Demand != nil && rs.Demand.Shared && !redis {
		rt.log.Warn("rules: demand.shared needs the Redis store (--store redis://...); demand is counted per replica", "version", rs.Version)
	}
}

// sharedError counts a failed shared counter call and logs at most one a
// minute (the merger retries every merge).
func (rt *rulesRuntime) sharedError(err error) {
	rt.sharedEr.Add(1)
	if rt.sharedLog.allow(time.Now()) {
		rt.log.Warn("rules: shared demand counters unavailable; holding the fleet's last counts and multipliers", "err", err.Error())
	}
}

// Load returns the ruleset in use (nil: no rules); for pricing.Config.
func (rt *rulesRuntime) Load() *rules.Ruleset { return rt.holder.Load() }

// start watches the file and SIGHUP and runs the demand merger until ctx
// ends. SIGHUP is caught from here on (before, it would kill the
// process), also without --rules (it is then logged and ignored): call
// start before announcing the server.
func (rt *rulesRuntime) start(ctx context.Context) {
	onHangup(ctx, func() {
		if rt.merger == nil {
			// Without --rules there is nothing to reload; a HUP sent
			// out of habit must not stop the server.
			rt.log.Info("SIGHUP ignored: no rules file (--rules) to reload")
			return
		}
		rt.log.Info("SIGHUP: reloading rules", "file", rt.path)
		if rs, err := rt.holder.Reload(rt.path); err == nil {
			rt.log.Info("rules in use", "version", rs.Version)
		}
	})
	if rt.merger == nil {
		return
	}
	go rt.holder.Watch(ctx, rt.path, 0)
	// Counting starts at the merger's first merge: make it now, so that
	// the first requests are counted too (Run's first is a tick away).
	rt.merger.Merge(ctx, time.Now())
	go rt.merger.Run(ctx)
}

func (rt *rulesRuntime) stats() metrics.RulesStats {
	st := metrics.RulesStats{
		Applied:      rt.applied.Load(),
		Refused:      rt.holder.Refused(),
		SharedErrors: rt.sharedEr.Load(),
	}
	if rs := rt.holder.Load(); rs != nil {
		st.Version = rs.Version
		st.LoadedAt = float64(rt.loadedAt.Load()) / 1e9
	}
	if rt.merger != nil {
		d := rt.merger.Stats()
		st.DroppedCounts, st.DroppedTables, st.EvictedKeys, st.Keys = d.DroppedCounts, d.DroppedTables, d.EvictedKeys, d.Keys
	}
	return st
}

// readyDetail is the line /readyz adds on the admin port.
func (rt *rulesRuntime) readyDetail() string {
	if rs := rt.holder.Load(); rs != nil {
		return "ruleset_version: " + rs.Version + "\n"
	}
	return ""
}

// rulesInfo is the body of GET /rules on the admin port.
type rulesInfo struct {
	Version        string `json:"version"`
	File           string `json:"file"`
	LoadedAt       string `json:"loaded_at"`
	Reloads        uint64 `json:"reloads"`
	ReloadsRefused uint64 `json:"reloads_refused"`
	LastRefusal    string `json:"last_refusal,omitempty"`
	Content        string `json:"content"`
}

// adminRoutes is GET /rules: the ruleset in use, where it came from, when
// it took effect, the reloads refused and the file's bytes.
func (rt *rulesRuntime) adminRoutes() map[string]http.Handler {
	return map[string]http.Handler{"GET /rules": http.HandlerFunc(rt.serveRules)}
}

func (rt *rulesRuntime) serveRules(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	rs := rt.holder.Load()
	if rs == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"no rules: the server was started without --rules"}`))
		return
	}
	rt.mu.Lock()
	last := rt.lastRefusal
	rt.mu.Unlock()
	_ = json.NewEncoder(w).Encode(rulesInfo{
		Version:        rs.Version,
		File:           rt.path,
		LoadedAt:       time.Unix(0, rt.loadedAt.Load()).UTC().Format(time.RFC3339Nano),
		Reloads:        rt.applied.Load(),
		ReloadsRefused: rt.holder.Refused(),
		LastRefusal:    last,
		Content:        string(rs.Raw()),
	})
}
