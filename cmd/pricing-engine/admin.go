package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pricing-engine/pricing-engine/admin"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/metrics"
)

// adminConfig is the admin write API's flags.
type adminConfig struct {
	tokensFile     string
	auditRetention time.Duration
}

// register declares the admin API flags on fs.
func (a *adminConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&a.tokensFile, "admin-tokens-file", "", `admin API tokens, one line "<name> <scope> <token>" (scope read or write; '#' comments); re-read when it changes and on SIGHUP. Empty: every /admin/v1/ request answers 403 (see docs/ADMIN.md)`)
	durationFlag(fs, &a.auditRetention, "audit-retention", lookup.DefaultAuditRetention, "how long the admin API's audit entries are kept (per key; see docs/ADMIN.md)")
}

// validate checks the admin flags.
func (a *adminConfig) validate() error {
	if a.auditRetention <= 0 {
		return fmt.Errorf("invalid --audit-retention %s: must be positive", a.auditRetention)
	}
	return nil
}

// adminRuntime is the admin API at run time: its handler and the tokens
// watcher.
type adminRuntime struct {
	handler *admin.Handler
	tokens  *admin.Tokens // nil without --admin-tokens-file
	log     *slog.Logger
	metrics *metrics.Admin
	close   func() // closes the writer's own store connection (--admin-store)
}

// newAdmin builds the admin API over src's writer (the memory store or
// the Redis store). A tokens file that cannot be read or parsed is an
// error at start.
func newAdmin(c *config, src lookup.Source, log *slog.Logger, mset *metrics.Set) (*adminRuntime, error) {
	cfg := &c.admin
	rt := &adminRuntime{log: log, close: func() {}}
	if cfg.tokensFile != "" {
		t, err := admin.LoadTokens(cfg.tokensFile)
		if err != nil {
			return nil, err
		}
		rt.tokens = t
		rt.metrics = metrics.NewAdmin(mset.Registry, t.Len)
		log.Info("admin API enabled", "tokens_file", t.Path(), "tokens", t.Len())
	} else {
		rt.metrics = metrics.NewAdmin(mset.Registry, nil)
	}
	var w lookup.Writer
	switch s := src.(type) {
	case *redisstore.Store:
		rw, closeW, err := c.adminStore.writer(&c.store, s, redisstore.WriterOptions{AuditRetention: cfg.auditRetention}, log)
		if err != nil {
			return nil, err
		}
		w, rt.close = rw, closeW
	case *lookup.MemoryStore:
		w = s
	default:
		return nil, fmt.Errorf("cannot serve the admin API: the data source %T takes no writes", src)
	}
	rt.handler = admin.New(admin.Config{
		Store:   w,
		Tokens:  rt.tokens,
		Logger:  log,
		OnWrite: rt.metrics.Write,
		OnAuth:  rt.metrics.Refused,
	})
	return rt, nil
}

// start watches the tokens file (polling its identity every second) and
// re-reads it on SIGHUP, until ctx ends.
func (rt *adminRuntime) start(ctx context.Context) {
	if rt.tokens == nil {
		return
	}
	go rt.tokens.Watch(ctx, admin.DefaultTokensPoll, rt.reloaded)
	onHangup(ctx, func() {
		_, err := rt.tokens.Reload()
		rt.reloaded(rt.tokens.Len(), err)
	})
}

// reloaded logs (and counts) a re-read of the tokens file.
func (rt *adminRuntime) reloaded(n int, err error) {
	if err != nil {
		rt.metrics.ReloadError()
		rt.log.Warn("admin tokens reload refused; the previous tokens stay in use", "err", err)
		return
	}
	rt.log.Info("admin tokens reloaded", "tokens", n)
}

// protect makes the admin-port routes outside /admin/v1/ (GET /rules) need
// a read token when a tokens file is set.
func (rt *adminRuntime) protect(routes map[string]http.Handler) map[string]http.Handler {
	for pattern, h := range routes {
		routes[pattern] = rt.handler.RequireRead(h)
	}
	return routes
}
