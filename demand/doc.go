// Package demand counts requests per product x location in a sliding
// window, for the demand rules of package rules: a [Shard] per event loop
// counts without locks, a [Merger] merges the shards (and, through a
// [SharedCounter], the other replicas' counts), steps the smoothed
// multipliers once per window and publishes an immutable [Snapshot].
//
// The tiers and the smoothing step are the ruleset's (rules.Demand.Target
// and rules.Demand.Step); this package owns the counts and the smoothed
// state, and hands pricing plain figures ([Value], which converts to
// rules.DemandSeen). It knows nothing of HTTP, event loops or Redis.
// Nothing in the request path (Shard.Observe, or Shard.Record and
// Snapshot.Lookup) allocates or takes a lock.
//
// # How demand is counted
//
// Every event loop owns a [Shard]. Shard.Observe (or Shard.Record) counts one request of a
// product x location into the shard's table for the current time bucket
// (window / BucketsPerWindow long), with no lock and no atomic
// read-modify-write: the table belongs to the loop alone. When a request
// arrives in a later bucket (or the loop calls Shard.Flush), the shard
// hands the finished table to the [Merger] through a buffered channel and
// continues in an empty one the merger recycled; the channel is the only
// handoff, so the merger never reads a table the loop still writes.
//
// The Merger (one per process, Merger.Run on its own goroutine) drains
// the shards, keeps per key the counts of the last BucketsPerWindow
// buckets, steps the smoothed multipliers once per window, and publishes
// an immutable [Snapshot] through an atomic pointer that the loops read
// (Shard.Observe, or Merger.Snapshot then Snapshot.Lookup).
//
// Memory is bounded everywhere:
//   - a shard's table holds MergerConfig.ShardKeys keys per bucket. When
//     the slots a new key may use are full, the new key replaces one that
//     was seen only once in the bucket; if none was, it is not counted
//     and the least-counted of those slots loses one count (Misra-Gries
//     style). A flood of distinct ids therefore evicts mostly itself: a
//     key with more than 1/ShardKeys of a loop's requests in a bucket
//     keeps (nearly) all its counts. Dropped counts are in Stats.
//   - a shard has at most two finished tables waiting for the merger; if the
//     merger falls that far behind, the oldest unsent table's counts are
//     dropped (Stats.DroppedTables).
//   - the merger tracks at most MergerConfig.MaxKeys keys; past that the
//     least-requested keys are forgotten at the end of a merge (their
//     multiplier returns to 1) and counted in Stats.EvictedKeys.
//
// What a snapshot counts: the requests of the BucketsPerWindow buckets
// before the current one, i.e. a window that slides by one bucket at a
// time. The current bucket is not counted yet. A loop that serves no
// request after a bucket ends hands its last table over only at its next
// request or Flush: call Flush from the loop's periodic tick to bound
// that delay.
//
// # Shared demand
//
// With a [SharedCounter] and a ruleset that says shared: true, every
// replica's counts are summed and the smoothed multipliers are the
// fleet's, not a replica's, so that replicas quote the same price for
// the same item at the same time, a restarted one too:
//   - Counts: each merge that absorbed finished buckets adds them
//     (SharedCounter.Add) and reads the fleet's window totals
//     (SharedCounter.Totals); otherwise the totals are read at most four
//     times a bucket. The snapshot's Requests are the fleet's.
//   - Multipliers: they change once per period, a window-long span of
//     Unix time that begins a quarter bucket after a window boundary (so
//     that every replica's counts of the window's last bucket are in).
//     At its first merge in a new period a replica steps its multipliers
//     from the fleet's totals and proposes them
//     (SharedCounter.Multipliers); the first proposal of a period is
//     stored and every replica takes the stored multipliers, reading them
//     again at every exchange. A replica that starts (or restarts) reads
//     the current period's at its first merge, so it quotes what its
//     peers quote from then on.
//   - When the shared counter fails, the replica keeps the fleet's last
//     totals and multipliers, and steps them at a new period as its peers
//     do (its proposal is sent once the counter answers again); it never
//     falls back to its own counts, a fraction of the fleet's. When the
//     totals could not be read for a whole window, the fleet's counts are
//     unknown and are taken as none: every tier's target is 1 and the
//     multipliers step down to 1 by max_step per period.
package demand
