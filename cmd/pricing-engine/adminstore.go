package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
)

// adminStoreConfig is the --admin-store* flags: the connection the admin
// API writes through, when it must not be the serving one (least
// privilege: serving connects as a Redis user that cannot write).
type adminStoreConfig struct {
	url          string // empty: write through the serving connection
	passwordFile string
}

// register declares the flags on fs.
func (a *adminStoreConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "admin-store", "", `Redis URL the admin API writes through (redis://user@host:port, e.g. a Redis user allowed to write while --store's user only reads; TLS files and prefix as for --store). Empty: the --store connection`)
	fs.StringVar(&a.passwordFile, "admin-store-password-file", "", "file holding --admin-store's password (replaces one in the URL; trailing newline ignored)")
}

// validate checks the flags against the store's.
func (a *adminStoreConfig) validate(store *storeConfig) error {
	var errs []error
	if a.url != "" {
		if !store.redis() {
			errs = append(errs, fmt.Errorf("invalid --admin-store: the memory store takes the admin API's writes itself; --admin-store needs a Redis --store"))
		} else if _, err := redisstore.ParseURL(a.url); err != nil {
			errs = append(errs, fmt.Errorf("invalid --admin-store: %w", err))
		}
	}
	if a.passwordFile != "" && a.url == "" {
		errs = append(errs, errors.New("invalid --admin-store-password-file: give --admin-store too"))
	}
	return errors.Join(errs...)
}

// writer returns the governed writer of st, made on first use so that
// the engine starts while Redis is down (as with --store) and the admin
// API answers 503 until the store answers: without --admin-store it
// shares st's connection once st is connected; with it, it dials a
// connection of its own, closed by the returned function after the server
// stopped.
func (a *adminStoreConfig) writer(store *storeConfig, st *redisstore.Store, wo redisstore.WriterOptions, log *slog.Logger) (lookup.Writer, func(), error) {
	if a.url == "" {
		lw := &lazyWriter{connect: func(context.Context) (*redisstore.Writer, func(), error) {
			// Ready is true once st has connected, and its client is set
			// before that, so reading it then is safe.
			if ok, reason := st.Ready(); !ok {
				return nil, nil, fmt.Errorf("cannot write: the store is not connected: %s", reason)
			}
			return redisstore.NewWriter(st.Client(), st.Keys(), wo), func() {}, nil
		}}
		return lw, lw.close, nil
	}
	o, err := store.options(log)
	if err != nil {
		return nil, nil, err
	}
	o.URL, o.Password = a.url, ""
	if a.passwordFile != "" {
		if o.Password, err = readPasswordFile("--admin-store-password-file", a.passwordFile); err != nil {
			return nil, nil, err
		}
	}
	redacted := redisstore.Redact(a.url)
	lw := &lazyWriter{connect: func(ctx context.Context) (*redisstore.Writer, func(), error) {
		client, err := redisstore.Dial(ctx, o)
		if err != nil {
			log.Warn("admin API: cannot connect its store (--admin-store)", "admin_store", redacted, "err", err)
			return nil, nil, fmt.Errorf("cannot connect the admin API's store: %w", err)
		}
		log.Info("admin API connected its own store connection", "admin_store", redacted)
		return redisstore.NewWriter(client, st.Keys(), wo), client.Close, nil
	}}
	return lw, lw.close, nil
}

// lazyWriter is a [redisstore.Writer] made by connect on the first call,
// and again after a failed connect: until one succeeds every call fails
// with connect's error (the admin API answers 503). It is safe for
// concurrent use.
type lazyWriter struct {
	connect func(context.Context) (*redisstore.Writer, func(), error)

	mu     sync.Mutex
	w      *redisstore.Writer
	closer func()
}

var _ lookup.Writer = (*lazyWriter)(nil)

// get returns the writer, connecting first when there is none.
func (l *lazyWriter) get(ctx context.Context) (*redisstore.Writer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		return l.w, nil
	}
	w, closer, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	l.w, l.closer = w, closer
	return w, nil
}

// close closes the connection, if one was made.
func (l *lazyWriter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closer != nil {
		l.closer()
		l.w, l.closer = nil, nil
	}
}

// Read implements [lookup.Writer].
func (l *lazyWriter) Read(ctx context.Context, ref lookup.Ref) (lookup.Record, error) {
	w, err := l.get(ctx)
	if err != nil {
		return lookup.Record{}, err
	}
	return w.Read(ctx, ref)
}

// Write implements [lookup.Writer].
func (l *lazyWriter) Write(ctx context.Context, wr *lookup.Write) (lookup.Outcome, error) {
	w, err := l.get(ctx)
	if err != nil {
		return lookup.Outcome{}, err
	}
	return w.Write(ctx, wr)
}

// Audit implements [lookup.Writer].
func (l *lazyWriter) Audit(ctx context.Context, q lookup.AuditQuery) ([]lookup.AuditEntry, string, error) {
	w, err := l.get(ctx)
	if err != nil {
		return nil, "", err
	}
	return w.Audit(ctx, q)
}

// AuditVersion implements [lookup.Writer].
func (l *lazyWriter) AuditVersion(ctx context.Context, ref lookup.Ref, v uint64) (lookup.AuditEntry, bool, error) {
	w, err := l.get(ctx)
	if err != nil {
		return lookup.AuditEntry{}, false, err
	}
	return w.AuditVersion(ctx, ref, v)
}

// redacted is --admin-store for logs: empty, or the URL without password.
func (a *adminStoreConfig) redacted() string {
	if a.url == "" {
		return ""
	}
	return redisstore.Redact(a.url)
}
