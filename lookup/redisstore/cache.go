package redisstore

import (
	"sync"
	"sync/atomic"

	"github.com/pricing-engine/pricing-engine/money"
)

// nShards splits the cache so that event loops reading it and the
// invalidation reader writing it rarely meet on one lock.
const nShards = 256

// negativeShare sets the bound of absent keys: CacheEntries/negativeShare
// (at least one per shard), kept apart from the values so that lookups
// of random unknown ids evict only each other, never a known key.
const negativeShare = 8

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

// entry is what is known of one Redis key: a copy, for a batch or a
// flight.
type entry struct {
	val money.Decimal
	// seen is when the key was last read from Redis or answered from the
	// cache (Unix nanoseconds): the value may answer stale until seen +
	// StaleFor.
	seen int64
	// epoch is the cache epoch the value was read in; the entry is fresh
	// (answers without asking Redis) only while it equals the cache's
	// current epoch. 0 marks an invalidated entry, kept as last known.
	epoch uint32
	kind  uint8
}

// slot is one key in the cache. val and kind never change once the slot
// is in the map (a newer read stores a new slot); used and epoch change
// under readers, atomically, so that a hit can record its use without a
// lock and without allocating.
type slot struct {
	val  money.Decimal
	kind uint8
	// used is entry.seen: the last read from Redis or answer from the
	// cache. Hits move it forward at most once per clock tick.
	used atomic.Int64
	// epoch is entry.epoch.
	epoch atomic.Uint32
}

// touch records a use at now (the store's coarse clock): one atomic load,
// and a store at most once per clock tick per key.
func (sl *slot) touch(now int64) {
	if sl.used.Load() < now {
		sl.used.Store(now)
	}
}

type shard struct {
	mu sync.RWMutex
	// m holds values and invalid values; neg holds absent keys. Each has
	// its own bound and evicts only its own kind.
	m, neg map[string]*slot
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
	shards      [nShards]shard
	perShard    int
	perShardNeg int
	// epoch advances when the server's tracking state is lost (a
	// disconnect, a FLUSHALL): every entry stops being fresh at once and
	// is kept only as a last-known value.
	epoch atomic.Uint32
}

func newCache(maxEntries int) *cache {
	c := &cache{
		perShard:    max(maxEntries/nShards, 1),
		perShardNeg: max(maxEntries/negativeShare/nShards, 1),
	}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*slot)
		c.shards[i].neg = make(map[string]*slot)
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

// get returns the slot of the compact key k, or nil. It does not
// allocate. The slot stays valid (and its val and kind unchanged) after
// it has been replaced or evicted.
func (c *cache) get(k []byte) *slot {
	sh := c.shard(k)
	sh.mu.RLock()
	sl := sh.m[string(k)]
	if sl == nil {
		sl = sh.neg[string(k)]
	}
	sh.mu.RUnlock()
	return sl
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
// stored. The last use carries over from the slot it replaces. A new key
// in a full map (values, or absent keys) evicts one entry of that map at
// random.
func (c *cache) put(k string, e entry, ep uint32, inval uint64) {
	sl := &slot{val: e.val, kind: e.kind}
	sh := c.shard([]byte(k))
	sh.mu.Lock()
	if sh.inval != inval || c.epoch.Load() != ep {
		e.epoch = 0
	}
	sl.epoch.Store(e.epoch)
	dst, other, bound := sh.m, sh.neg, c.perShard
	if e.kind == kindAbsent {
		dst, other, bound = sh.neg, sh.m, c.perShardNeg
	}
	used := e.seen
	if old := other[k]; old != nil {
		used = max(used, old.used.Load())
		delete(other, k)
	}
	if old := dst[k]; old != nil {
		used = max(used, old.used.Load())
	} else if len(dst) >= bound {
		for victim := range dst { // Go's map order is random: a random victim
			delete(dst, victim)
			break
		}
	}
	sl.used.Store(used)
	dst[k] = sl
	sh.mu.Unlock()
}

// invalidate marks k not fresh (its value stays as the last known one).
func (c *cache) invalidate(k []byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	sh.inval++
	sl := sh.m[string(k)]
	if sl == nil {
		sl = sh.neg[string(k)]
	}
	if sl != nil {
		sl.epoch.Store(0)
	}
	sh.mu.Unlock()
}

// flush makes every entry not fresh at once.
func (c *cache) flush() { c.epoch.Add(1) }

// len returns the number of entries: values and absent keys.
func (c *cache) len() int {
	v, a := c.counts()
	return v + a
}

// counts returns the number of values (valid or not) and of absent keys.
func (c *cache) counts() (values, absent int) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		values += len(sh.m)
		absent += len(sh.neg)
		sh.mu.RUnlock()
	}
	return values, absent
}

func (c *cache) hits() uint64 {
	var n uint64
	for i := range c.shards {
		n += c.shards[i].hits.Load()
	}
	return n
}
