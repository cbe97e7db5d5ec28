// Command fastrueidis is the reference a Go team would write today for the
// Redis store with a client-side cache: fasthttp, the pricing package's
// fastjson-based decoder, and github.com/redis/rueidis, each request
// reading its product and market keys with one DoMultiCache call
// (server-assisted client-side caching: RESP3 CLIENT TRACKING, hits answered
// in process, misses pipelined) or, with --client-cache=false, one DoMulti
// (both GETs in one round trip). Concurrent requests share rueidis' pipelined
// connection. It decodes, prices and encodes with the pricing package, as the
// other reference servers do, and reads the same keys as the store
// (lookup/redisstore), so that a benchmark against it compares how the
// lookups reach Redis and what they cost.
//
//	fastrueidis --addr 127.0.0.1:8000 --store redis://127.0.0.1:6379 [--client-cache=false] [--cache-ttl 1m]
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"time"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/fastref"
	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// source reads Redis through rueidis; it answers the Calls of a
// ref.Blocking source.
type source struct {
	rdb   rueidis.Client
	keys  redisstore.Keys
	cache bool
	ttl   time.Duration
}

// get reads keys in one call: from the client-side cache (misses in one
// pipelined round trip) or, without the cache, in one round trip.
func (s *source) get(ctx context.Context, keys ...string) []rueidis.RedisResult {
	if s.cache {
		cmds := make([]rueidis.CacheableTTL, len(keys))
		for i, k := range keys {
			cmds[i] = rueidis.CT(s.rdb.B().Get().Key(k).Cache(), s.ttl)
		}
		return s.rdb.DoMultiCache(ctx, cmds...)
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = s.rdb.B().Get().Key(k).Build()
	}
	return s.rdb.DoMulti(ctx, cmds...)
}

// answer reads c's product and market (the default market when the
// location has none) and sets c's results; ctx ends at c's deadline.
func (s *source) answer(ctx context.Context, c *lookup.Call) {
	product := string(c.ProductID)
	rs := s.get(ctx, s.keys.Product(product), s.keys.Market(string(c.Location)))
	p, pErr := rs[0].ToString()
	mk, mkErr := rs[1].ToString()
	if rueidis.IsRedisNil(mkErr) {
		mk, mkErr = s.get(ctx, s.keys.DefaultMarket())[0].ToString()
		if rueidis.IsRedisNil(mkErr) {
			mk, mkErr = "1", nil
		}
	}
	ref.Answer(c, s.keys, ref.Fetched{
		Base: p, Mult: mk,
		Missing:  rueidis.IsRedisNil(pErr),
		Failed:   pErr != nil || mkErr != nil,
		TimedOut: ctx.Err() != nil,
	})
}

func main() {
	fs := flag.NewFlagSet("fastrueidis", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	store := fs.String("store", "redis://127.0.0.1:6379", "Redis URL")
	prefix := fs.String("store-prefix", redisstore.DefaultPrefix, "key prefix")
	cache := fs.Bool("client-cache", true, "server-assisted client-side caching (DoMultiCache); false: DoMulti")
	ttl := fs.Duration("cache-ttl", time.Minute, "client-side cache TTL of an entry")
	_ = fs.Parse(os.Args[1:])
	opt, err := rueidis.ParseURL(*store)
	if err != nil {
		log.Fatal(err)
	}
	opt.DisableCache = !*cache
	rdb, err := rueidis.NewClient(opt)
	if err != nil {
		log.Fatal(err)
	}
	src := &source{rdb: rdb, keys: redisstore.NewKeys(*prefix), cache: *cache, ttl: *ttl}
	engine := pricing.NewEngine(&ref.Blocking{Answer: src.answer}, pricing.Config{})
	log.Printf("client-side cache %v", *cache)
	log.Fatal(fastref.ListenAndServe("fastrueidis", *addr, engine))
}
