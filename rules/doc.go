// Package rules is the dynamic pricing ruleset: it parses and validates a
// rules file (demand tiers, schedules, guards, price endings), counts
// demand per product x location in a sliding window, and prices a request
// as a pure function of the request, its looked-up base price and market
// multiplier, the time, the demand seen and the ruleset.
//
// The pieces, and who calls them:
//
//   - [Parse] / [ReadFile]: a file -> an immutable [Ruleset], or an
//     [ErrorList] naming file, line and reason of every problem.
//   - [Holder]: the ruleset in use behind an atomic pointer; [Holder.Reload]
//     (SIGHUP) and [Holder.Watch] (file changes) replace it, refusing bad
//     files and keeping the old rules.
//   - [Merger] and [Shard]: demand counting, a Shard per event loop (no
//     locks on the request path), merged into an immutable [Snapshot].
//   - [Price]: (ruleset, [Input]) -> [Result] with list price, final
//     price, discount and an [Explanation] of every factor and guard, in
//     order, so that the price can be reproduced by hand. A nil ruleset
//     is the seed formula exactly.
//
// The package knows nothing of HTTP, event loops or Redis: shared demand
// counting across replicas goes through the [SharedCounter] interface.
// Nothing in the request path (Holder.Load, Shard.Observe (or
// Shard.Record and Snapshot.Lookup), Price, Explanation.AppendJSON)
// allocates or takes a lock.
//
// The file format, the order of operations and a worked example are in
// docs/RULES.md.
package rules
