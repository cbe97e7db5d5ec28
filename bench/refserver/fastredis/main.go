// Command fastredis is the reference a Go programmer would write for the
// Redis store: fasthttp + github.com/redis/go-redis/v9, each request doing
// its two GETs (product and market) concurrently, no client-side cache.
// It decodes, prices and encodes with the pricing package, as the other
// reference servers do, so that a benchmark against it compares how the
// lookups reach Redis.
//
//	fastredis --addr 127.0.0.1:8000 --store redis://127.0.0.1:6379 [--store-prefix pricing:]
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/fastref"
	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// source reads Redis with plain GETs through go-redis; it answers the
// Calls of a ref.Blocking source.
type source struct {
	rdb  *redis.Client
	keys redisstore.Keys
}

// answer reads c's product and market (the default market when the
// location has none) and sets c's results; ctx ends at c's deadline.
func (s *source) answer(ctx context.Context, c *lookup.Call) {
	var (
		wg      sync.WaitGroup
		mk      string
		mkErr   error
		product = string(c.ProductID)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		mk, mkErr = s.rdb.Get(ctx, s.keys.Market(string(c.Location))).Result()
		if errors.Is(mkErr, redis.Nil) {
			mk, mkErr = s.rdb.Get(ctx, s.keys.DefaultMarket()).Result()
			if errors.Is(mkErr, redis.Nil) {
				mk, mkErr = "1", nil
			}
		}
	}()
	p, pErr := s.rdb.Get(ctx, s.keys.Product(product)).Result()
	wg.Wait()
	ref.Answer(c, s.keys, ref.Fetched{
		Base: p, Mult: mk,
		Missing:  errors.Is(pErr, redis.Nil),
		Failed:   pErr != nil || mkErr != nil,
		TimedOut: ctx.Err() != nil,
	})
}

func main() {
	fs := flag.NewFlagSet("fastredis", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	store := fs.String("store", "redis://127.0.0.1:6379", "Redis URL")
	prefix := fs.String("store-prefix", redisstore.DefaultPrefix, "key prefix")
	_ = fs.Parse(os.Args[1:])
	opt, err := redis.ParseURL(*store)
	if err != nil {
		log.Fatal(err)
	}
	opt.PoolSize = 256
	src := &source{rdb: redis.NewClient(opt), keys: redisstore.NewKeys(*prefix)}
	engine := pricing.NewEngine(&ref.Blocking{Answer: src.answer}, pricing.Config{})
	log.Fatal(fastref.ListenAndServe("fastredis", *addr, engine))
}
