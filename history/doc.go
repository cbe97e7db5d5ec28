// Package history answers one question: what was the lowest list price of
// a product x location on each UTC day. Package pricing records every
// price it serves here and asks for the prior price of an announced
// reduction (Directive 98/6/EC Art. 6a, as amended by Directive (EU)
// 2019/2161): the lowest price in the window before the reduction
// started ([Merger.Prior]).
//
// It knows nothing of HTTP, event loops, rules or Redis. Recording
// ([Shard.Record]) neither allocates in steady state nor takes a lock;
// [Merger.Prior] takes a read lock and allocates only the first time it
// answers a question about a key (the answer is remembered until the
// key's history changes).
//
// # What a day holds
//
// For each product x location and UTC day, a [Low]: the lowest price
// recorded that day (Price), and the lowest recorded while no announced
// reduction applied to the item (Plain). A reduction that starts during
// a day must not count its own prices as prior prices, but the prices of
// that day before it started do count: Plain is what the day of a
// reduction's start contributes. Days are kept for [Retention] days.
//
// # How prices are recorded
//
// As in package demand, every event loop owns a [Shard]: Shard.Record
// keeps the lowest price per product x location x day in a table of the
// loop's own, with no lock and no atomic read-modify-write. At the loop's
// tick (Shard.Flush), or when the table's slots for a key are full, the
// shard hands the table to the [Merger] through a buffered channel and
// continues in an empty one the merger recycled; the channel is the only
// handoff. Callers without a loop (the admin listener) record with
// Merger.Record, under a mutex.
//
// The Merger (one per process, Merger.Run on its own goroutine) drains
// the shards into its book, the history of every product x location
// recorded: a fixed number of maps, each under its own read-write lock
// that only the merger takes for writing. Merger.Prior reads the book
// under a read lock: it is called only for items under an announced
// reduction.
//
// # Shared history
//
// With a [Shared] store (the Redis store implements it), every merge
// that lowered some day's values sends them (Shared.Lower: the store
// keeps the lower of its value and ours, atomically) and reads the
// values other replicas lowered since the last read (Shared.Read, from a
// cursor per day), so that every replica's book holds the fleet's
// history. The first read of a day reads it in full, so a replica that
// starts holds the fleet's history after its first merges. When the
// store fails, the values not sent are kept and sent at a later merge.
//
// # Bounds
//
// A shard's table holds MergerConfig.ShardKeys keys; a loop that records
// more distinct keys within one tick hands its table over early (at most
// two wait for the merger; past that a record is dropped and counted in
// Stats.DroppedRecords). The book holds one entry of 24 bytes per product
// x location x day between the key's first and last recorded day, plus
// the key's map entry; docs/STORE.md gives the measured bytes per entry.
// Days older than Retention are forgotten at the first merge of a new
// UTC day.
package history
