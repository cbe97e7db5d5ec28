package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/pricing-engine/pricing-engine/quote"
)

// Bounds of --quote-ttl: a token carries whole seconds, and a quote is a
// promise for a checkout, not a price list.
const (
	minQuoteTTL = time.Second
	maxQuoteTTL = 24 * time.Hour
)

// quoteConfig is the signed quotes' flags and, once loaded, the keys.
type quoteConfig struct {
	keysFile string
	ttl      time.Duration
	ring     *quote.Keyring // set by load; nil without --quote-keys-file
}

// register declares the quote flags on fs.
func (q *quoteConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&q.keysFile, "quote-keys-file", "", `signed quote keys, one line "<kid> <base64 secret>" (secret of 32..512 bytes; '#' comments); the first key signs, all verify; re-read when it changes and on SIGHUP. Empty: "quote": true is refused with 422 (see docs/QUOTES.md)`)
	durationFlag(fs, &q.ttl, "quote-ttl", quote.DefaultTTL, "how long a signed quote is valid (whole seconds, 1s..24h)")
}

// validate checks the quote flags.
func (q *quoteConfig) validate() error {
	if q.ttl < minQuoteTTL || q.ttl > maxQuoteTTL || q.ttl%time.Second != 0 {
		return fmt.Errorf("invalid --quote-ttl %s: want whole seconds from %s to %s", q.ttl, minQuoteTTL, maxQuoteTTL)
	}
	return nil
}

// load reads the keys file given at start. Its error names the file, the
// line and the reason, never a secret.
func (q *quoteConfig) load() error {
	if q.keysFile == "" {
		return nil
	}
	r, err := quote.Open(q.keysFile, q.ttl)
	if err != nil {
		return fmt.Errorf("invalid --quote-keys-file: %w", err)
	}
	q.ring = r
	return nil
}

// startQuotes watches the keys file (polling its identity every second)
// and re-reads it on SIGHUP, until ctx ends. Reloads are logged with the
// key ids, never the secrets.
func startQuotes(ctx context.Context, r *quote.Keyring, log *slog.Logger) {
	if r == nil {
		return
	}
	reloaded := func(err error) {
		if err != nil {
			log.Warn("quote keys reload refused; the previous keys stay in use", "err", err)
			return
		}
		log.Info("quote keys reloaded", "key_ids", r.KeyIDs())
	}
	go r.Watch(ctx, quote.DefaultPoll, reloaded)
	onHangup(ctx, func() { reloaded(r.Reload()) })
}
