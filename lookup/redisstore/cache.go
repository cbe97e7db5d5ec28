package redisstore

import (
	"sync"
	"sync/atomic"

	"github.com/pricing-engine/pricing-engine/money"
)

// nShards splits the cache so that event loops reading it and the
// invalidation reader writing it rarely meet on one lock.
const nShards = 256

// Kinds of cache entries. The zero kind means "no entry".
const (
	kindValue   uint8 = iota + 1 // a valid decimal in range
	kindAbsent                   // the key does not exist in Redis
	kindInvalid                  // the key holds something that is not a valid value
)

// Compact cache keys: one byte for the kind of key, then the id as given.
const (
	tagProduct = 'p'
	tagMarket  = 'm'
)

// entry is what the cache knows of one Redis key. It is 32 bytes.
type entry struct {
	val money.Decimal
	// seen is when the value was last read from Redis (Unix nanoseconds):
	// the entry may answer stale until seen + StaleFor.
	seen int64
	// epoch is the cache epoch the value was read in; the entry is fresh
	// (answers without asking Redis) only while it equals the cache's
	// current epoch. 0 marks an invalidated entry, kept as last known.
	epoch uint32
	kind  uint8
}

type shard struct {
	mu sync.RWMutex
	m  map[string]entry
	// inval counts the invalidations that touched this shard (under mu):
	// a read that raced with one is stored as not fresh.
	inval uint64
	// hits counts answers served from this shard's entries (a counter
	// next to the lock the reader takes anyway, so no shared hot line).
	hits atomic.Uint64
	_    [64]byte
}

// cache is the bounded client-side cache and last-known-good store. It
// is safe for concurrent use; reads do not allocate.
type cache struct {
	shards   [nShards]shard
	perShard int
	// epoch advances when the server's tracking state is lost (a
	// disconnect, a FLUSHALL): every entry stops being fresh at once and
	// is kept only as a last-known value.
	epoch atomic.Uint32
}

func newCache(maxEntries int) *cache {
	c := &cache{perShard: max(maxEntries/nShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]entry)
	}
	c.epoch.Store(1)
	return c
}

// hashKey is FNV-1a over the compact key.
func hashKey(k []byte) uint32 {
	h := uint32(2166136261)
	for _, b := range k {
		h ^= uint32(b)
		h *= 16777619
	}
	return h
}

func (c *cache) shard(k []byte) *shard { return &c.shards[hashKey(k)%nShards] }

// get returns the entry for the compact key k. It does not allocate.
func (c *cache) get(k []byte) (entry, bool) {
	sh := c.shard(k)
	sh.mu.RLock()
	e, ok := sh.m[string(k)]
	sh.mu.RUnlock()
	return e, ok
}

// snapshot returns the shard's invalidation count, taken before a read is
// sent so that put can tell whether an invalidation raced with it.
func (c *cache) snapshot(k []byte) uint64 {
	sh := c.shard(k)
	sh.mu.RLock()
	n := sh.inval
	sh.mu.RUnlock()
	return n
}

// put stores e (read in epoch ep, sent when the shard's invalidation count
// was inval) under k. If an invalidation or a flush came in between, the
// value is kept only as a last-known one (not fresh): Redis may already
// hold a newer value whose invalidation we consumed before this reply was
// stored. A new key in a full shard evicts one entry at random.
func (c *cache) put(k string, e entry, ep uint32, inval uint64) {
	sh := c.shard([]byte(k))
	sh.mu.Lock()
	if sh.inval != inval || c.epoch.Load() != ep {
		e.epoch = 0
	}
	if _, ok := sh.m[k]; !ok && len(sh.m) >= c.perShard {
		for old := range sh.m { // Go's map order is random: a random victim
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = e
	sh.mu.Unlock()
}

// invalidate marks k not fresh (its value stays as the last known one).
func (c *cache) invalidate(k []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	sh.inval++
	if e, ok := sh.m[string(k)]; ok && e.epoch != 0 {
		e.epoch = 0
		sh.m[string(k)] = e
	}
	sh.mu.Unlock()
}

// flush makes every entry not fresh at once.
func (c *cache) flush() { c.epoch.Add(1) }

// len returns the number of entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

func (c *cache) hits() uint64 {
	var n uint64
	for i := range c.shards {
		n += c.shards[i].hits.Load()
	}
	return n
}
