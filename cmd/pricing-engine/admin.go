package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	tlsCertFile    string
	tlsKeyFile     string
}

// register declares the admin API flags on fs.
func (a *adminConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&a.tokensFile, "admin-tokens-file", "", `admin API tokens, one line "<name> <scope> <token>" (scope read or write; '#' comments); re-read when it changes and on SIGHUP. Empty: every /admin/v1/ request answers 403 (see docs/ADMIN.md)`)
	fs.StringVar(&a.tlsCertFile, "admin-tls-cert-file", "", "PEM certificate (leaf first, then intermediates) for HTTPS on the admin listener; needs --admin-tls-key-file; re-read when it changes. Empty: plain HTTP")
	fs.StringVar(&a.tlsKeyFile, "admin-tls-key-file", "", "PEM private key of --admin-tls-cert-file; re-read with it")
	durationFlag(fs, &a.auditRetention, "audit-retention", lookup.DefaultAuditRetention, "how long the admin API's audit entries are kept (per key; see docs/ADMIN.md)")
}

// validate checks the admin flags.
func (a *adminConfig) validate() error {
	if a.auditRetention <= 0 {
		return fmt.Errorf("invalid --audit-retention %s: must be positive", a.auditRetention)
	}
	if (a.tlsCertFile == "") != (a.tlsKeyFile == "") {
		return errors.New("invalid admin TLS: give both --admin-tls-cert-file and --admin-tls-key-file, or neither")
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
	// cert is the admin listener's certificate (nil: plain HTTP).
	cert *admin.Certificate
}

// newAdmin builds the admin API over src's writer (the memory store or
// the Redis store). A tokens file that cannot be read or parsed is an
// error at start.
// wrote, when set, is told of every write that changed a value (the
// price history re-prices what it changed).
func newAdmin(c *config, src lookup.Source, log *slog.Logger, mset *metrics.Set, wrote func(lookup.Ref)) (*adminRuntime, error) {
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
	if cfg.tlsCertFile != "" {
		cert, err := admin.LoadCertificate(cfg.tlsCertFile, cfg.tlsKeyFile, admin.CertificateOptions{OnReload: rt.certReloaded})
		if err != nil {
			return nil, err
		}
		rt.cert = cert
		metrics.TLSCertificate(mset.Registry, func() time.Time { return cert.Leaf().NotAfter })
		leaf := cert.Leaf()
		log.Info("admin TLS enabled", "cert_file", cfg.tlsCertFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
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
	if wrote != nil {
		w = recordingWriter{Writer: w, wrote: wrote}
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

// tlsConfig is the admin listener's TLS configuration, nil for plain
// HTTP.
func (rt *adminRuntime) tlsConfig() *tls.Config {
	if rt.cert == nil {
		return nil
	}
	return rt.cert.TLSConfig()
}

// start watches the tokens file (polling its identity every second) and
// re-reads it on SIGHUP, until ctx ends. SIGHUP also re-reads a changed
// TLS certificate (which handshakes otherwise notice within a second).
func (rt *adminRuntime) start(ctx context.Context) {
	if rt.cert != nil {
		onHangup(ctx, func() { _ = rt.cert.Reload() }) // reported by certReloaded
	}
	if rt.tokens == nil {
		return
	}
	go rt.tokens.Watch(ctx, admin.DefaultTokensPoll, rt.reloaded)
	onHangup(ctx, func() {
		_, err := rt.tokens.Reload()
		rt.reloaded(rt.tokens.Len(), err)
	})
}

// certReloaded logs a re-read of the admin TLS certificate.
func (rt *adminRuntime) certReloaded(leaf *x509.Certificate, err error) {
	if err != nil {
		rt.metrics.TLSReloadError()
		rt.log.Warn("admin TLS certificate reload refused; the previous certificate stays in use", "err", err)
		return
	}
	rt.log.Info("admin TLS certificate reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
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
