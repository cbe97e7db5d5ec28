// Package rules is the dynamic pricing ruleset: it parses and validates a
// rules file (demand tiers, schedules, guards, price endings) and prices
// a request as a pure function of the request, its looked-up base price
// and market multiplier, the time, the demand seen and the ruleset.
//
// The pieces, and who calls them:
//
//   - [Parse] / [ReadFile]: a file -> an immutable [Ruleset], or an
//     [ErrorList] naming file, line and reason of every problem.
//   - [Holder]: the ruleset in use behind an atomic pointer; [Holder.Reload]
//     (SIGHUP) and [Holder.Watch] (file changes) replace it, refusing bad
//     files and keeping the old rules.
//   - [Price]: (ruleset, [Input]) -> [Result] with list price, final
//     price, discount and an [Explanation] of every factor and guard, in
//     order, so that the price can be reproduced by hand. A nil ruleset
//     is the seed formula exactly ([Seed], its one implementation).
//   - [Demand.Target] and [Demand.Step]: the tiers' multiplier for a
//     number of requests, and one window's smoothing step.
//
// The package knows nothing of HTTP, event loops, goroutines of its own
// or Redis. Demand is counted elsewhere (package demand, which also keeps
// the smoothed multiplier): Price takes the figures as a [DemandSeen] in
// [Input]. Nothing in the request path (Holder.Load, Price,
// Explanation.AppendJSON) allocates or takes a lock.
//
// The file format, the order of operations and a worked example are in
// docs/RULES.md.
package rules
