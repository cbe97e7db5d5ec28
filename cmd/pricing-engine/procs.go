package main

import "runtime"

// waitingProcs is the least GOMAXPROCS the server runs with when its
// lookups wait (a Redis store or a latency profile): the rule Go itself
// applies to a CPU quota (the runtime rounds a limit below 2 up to 2).
//
// Why: gnet's event loop blocks in epoll_wait, a system call outside Go's
// network poller, and keeps its P while it waits. With one P the
// goroutines that complete lookups (the latency profile's timer goroutine,
// the Redis client's readers) run only once the runtime takes that P back,
// which takes from tens of microseconds to milliseconds and shows in the
// tail latency and the rate (docs/BENCHMARKS.md, "One CPU").
// Two Ps on one CPU do not run at once, so the CPU (affinity mask or
// quota) is honoured.
const waitingProcs = 2

// raiseProcsForWaiting gives the runtime waitingProcs Ps when the engine's
// lookups wait, GOMAXPROCS is below that and was not set explicitly
// (explicitGOMAXPROCS: the GOMAXPROCS environment variable is set). It
// returns GOMAXPROCS as it is then. Call it after the event loops are
// sized (server.Start): their count follows the CPUs, not this floor.
func raiseProcsForWaiting(instant, explicitGOMAXPROCS bool) int {
	n := runtime.GOMAXPROCS(0)
	if instant || explicitGOMAXPROCS || n >= waitingProcs {
		return n
	}
	runtime.GOMAXPROCS(waitingProcs)
	return waitingProcs
}
