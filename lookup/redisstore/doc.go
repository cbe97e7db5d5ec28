// Package redisstore is the Redis [lookup.Source]: base prices and market
// multipliers kept in Redis (standalone, Redis Cluster, detected, or a
// primary found through Sentinels) as plain decimal strings under
//
//	<prefix>product:<product_id>   base price, e.g. 52.99
//	<prefix>market:<location>      multiplier, e.g. 1.10 ("*" is the default market)
//
// with the default prefix "pricing:". [Keys] is that schema, the one
// place that spells it: the store, [Import] and the benchmark's reference
// server build and parse keys only through it.
//
// # Import
//
// [Import] writes a loaded catalog and markets into the store, every value
// checked first ([lookup.CheckPrice], [lookup.CheckMultiplier], the same
// check the reader applies), in pipelined writes; with Replace it removes
// the keys not in the data.
//
// # Client-side cache
//
// The store keeps its own bounded cache of the keys it has read, kept
// current by Redis server-assisted client-side caching: every connection
// turns on RESP3 CLIENT TRACKING in BCAST mode for the prefix, so Redis
// pushes the name of every key under the prefix that anyone changes, and
// the entry stops being fresh at once (no polling; the server keeps no
// per-key tracking table in BCAST mode). A Call whose keys are all fresh
// is answered inside [lookup.Batcher.Lookup], on the caller's goroutine,
// without allocating: a sharded map read under a read lock, and the
// key's last use recorded on its slot with an atomic store at most once
// per tick of a coarse clock (no lock, no allocation). Absent keys are
// cached too (a later SET invalidates them), in maps of their own with
// their own bound, so that lookups of random unknown ids evict only each
// other.
//
// A fresh entry answers as live only while Redis is known to be alive: it
// replied to a read, or to the PING sent to every node each probe, within
// LiveWithin (a connection silenced by a partition that sends no RST
// would otherwise keep answering live until it times out); past that the
// entry answers stale.
//
// A lost connection (or FLUSHALL) makes every entry not fresh at once (an
// epoch counter), but entries are kept as last known values: while Redis
// cannot answer, a Call whose keys were used (read from Redis or answered
// from the cache) within StaleFor is answered from them, marked stale. A read that raced with an invalidation of its
// shard is kept only as a last known value, so an invalidation that
// arrived before the reply was stored is never lost.
//
// # Misses
//
// Calls that miss wait in their Batcher until Flush. A Batcher given its
// caller's event loop ([lookup.Hosted]) on a standalone Redis without TLS
// writes them as GETs on a connection of its own attached to that loop,
// whose replies the loop reads and answers on its goroutine (no hand-off;
// see loopconn.go). Otherwise, and while that connection is not up, Flush
// hands them, without blocking, to one of a fixed set of sender
// goroutines: the sender reads every missing key of the batch with one
// DoMulti (rueidis pipelines it, one round trip per node of a cluster),
// joining reads of the same keys already in flight for other batches
// (coalescing), and answers each Call by the earliest deadline of the
// batch.
//
// # Failures
//
// Open fails only when Redis refuses the store (credentials, TLS
// verification). When Redis cannot be reached, the store starts without
// it: every lookup answers [lookup.ErrUnavailable], [Store.Ready] says why,
// and a background loop connects with backoff until Redis answers.
//
// Consecutive failed round trips (errors or deadlines) open a breaker:
// Lookup then answers at once from last known values or with
// [lookup.ErrUnavailable], and a background probe (PING every
// ProbeInterval) closes it when Redis answers again. A value that is not a
// decimal in range ([lookup.CheckPrice], [lookup.CheckMultiplier]) answers a
// [*lookup.InvalidValueError] for that key only, is counted and logged
// once per key. The password never appears in errors or logs.
package redisstore
