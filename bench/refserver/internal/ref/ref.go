// Package ref holds what the reference servers of the benchmarks share:
// their command line, the in-memory data and the pricing engine.
//
// Every reference server prices with the same [pricing.Engine] over the
// embedded data in memory, behind the delays of the latency profile named
// by --lookup-latency (see [Engine]), so that a benchmark compares HTTP
// layers, JSON codecs and the way lookups wait, not pricing code.
package ref

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// Path is the one route the reference servers answer.
const Path = "/api/v1/price"

// MaxBody bounds a request body, as the real server does by default.
const MaxBody = 64 << 10

// Options are the command-line options every reference server takes.
type Options struct {
	Addr    string // listen address, host:port
	Latency string // lookup latency profile: "none" or "seed" (see lookup.ParseProfile)
}

// ParseFlags parses args (without the program name) for the server called
// name. Usage goes to stderr.
func ParseFlags(name string, args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8000", "listen address (host:port)")
	fs.StringVar(&o.Latency, "lookup-latency", "none", `lookup latency profile: "none" or "seed"`)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// Engine is the pricing engine of the reference servers: the shared
// [pricing.Engine] over the embedded data in memory, behind the latency
// profile's delays done the way a goroutine-per-connection Go server does
// them: the catalog delay on the handler's goroutine and the market delay
// on one extra goroutine (the two lookups run concurrently), each with its
// own timer, under the engine's deadline. Only the profile's delays are
// simulated (not its fault options).
type Engine struct {
	*pricing.Engine
	prof lookup.Profile
}

// NewEngine returns the reference engine with the latency profile named
// latency.
func NewEngine(latency string) (*Engine, error) {
	prof, err := lookup.ParseProfile(latency)
	if err != nil {
		return nil, err
	}
	cat, mk, err := lookup.Default()
	if err != nil {
		return nil, fmt.Errorf("cannot load data: %w", err)
	}
	return &Engine{Engine: pricing.NewEngine(&lookup.Memory{Catalog: cat, Markets: mk}, pricing.Config{}), prof: prof}, nil
}

// Price waits the profile's delays, then prices x.Req (decoded by the
// caller) into x's reply.
func (e *Engine) Price(ctx context.Context, x *pricing.Exchange) {
	if !e.prof.IsNone() {
		if err := e.sleep(ctx); err != nil {
			x.Fail(&pricing.Error{Status: pricing.StatusServiceUnavailable, RetryAfter: 1, Detail: "lookup timed out", Err: err})
			return
		}
	}
	e.Wait(x)
}

// sleep runs the two simulated lookups concurrently under the deadline.
func (e *Engine) sleep(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.Deadline())
	defer cancel()
	market := make(chan error, 1)
	go func() { market <- wait(ctx, e.prof.Market.Draw()) }()
	errCat := wait(ctx, e.prof.Catalog.Draw())
	if errMk := <-market; errMk != nil {
		return errMk
	}
	return errCat
}

// wait blocks for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fetched is what a Redis-backed reference server read for one request:
// the product's base price and the location's multiplier (the default
// market's, or "1", when the location has none), as strings.
type Fetched struct {
	Base, Mult string
	Missing    bool // the product key does not exist
	Failed     bool // a read failed
	TimedOut   bool // ... because the request's deadline passed
}

// Answer sets c's results from f, mapping failures and values exactly as
// the engine's store does (unknown product, unavailable or timed out, a
// value that is not a decimal in range), so that the references and the
// engine answer alike.
func Answer(c *lookup.Call, keys redisstore.Keys, f Fetched) {
	switch {
	case f.Missing:
		c.Err = &lookup.NotFoundError{Kind: lookup.KindProduct, Key: string(c.ProductID)}
		return
	case f.Failed && f.TimedOut:
		c.Err = lookup.ErrTimeout
		return
	case f.Failed:
		c.Err = lookup.ErrUnavailable
		return
	}
	base, err := money.Parse(f.Base)
	if err == nil {
		err = lookup.CheckPrice(base)
	}
	if err != nil {
		c.Err = &lookup.InvalidValueError{Key: keys.Product(string(c.ProductID))}
		return
	}
	mult, err := money.Parse(f.Mult)
	if err == nil {
		err = lookup.CheckMultiplier(mult)
	}
	if err != nil {
		c.Err = &lookup.InvalidValueError{Key: keys.Market(string(c.Location))}
		return
	}
	c.Base, c.Mult, c.Err = base, mult, nil
}

// Blocking is the lookup.Source of the Redis-backed references: each
// Batcher keeps its Calls and, on Flush, answers them one by one with
// Answer, blocking (a reference runs a goroutine per connection and
// prices through pricing.Engine.ServeWait). Answer gets a context that
// ends at the Call's deadline, if it has one.
type Blocking struct {
	Answer func(ctx context.Context, c *lookup.Call)
}

var _ lookup.Source = (*Blocking)(nil)

// NewBatcher implements lookup.Source.
func (s *Blocking) NewBatcher() lookup.Batcher { return &blockingBatcher{s: s} }

// Instant implements lookup.Source: never.
func (s *Blocking) Instant() bool { return false }

type blockingBatcher struct {
	s       *Blocking
	pending []*lookup.Call
}

func (b *blockingBatcher) Lookup(c *lookup.Call) bool {
	b.pending = append(b.pending, c)
	return false
}

func (b *blockingBatcher) Flush() {
	for _, c := range b.pending {
		b.answer(c)
		c.Done(c)
	}
	clear(b.pending)
	b.pending = b.pending[:0]
}

func (b *blockingBatcher) answer(c *lookup.Call) {
	ctx := context.Background()
	if !c.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
		defer cancel()
	}
	b.s.Answer(ctx, c)
}
