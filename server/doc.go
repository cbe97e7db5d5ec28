// Package server is the network side of pricing-engine: it accepts
// connections on gnet event loops, frames requests with [httpparse], routes
// them, asks the [pricing] engine for quotes and writes the replies back in
// request order. A second, ordinary net/http listener serves the admin
// routes (/metrics, /healthz, /readyz, /docs, /openapi.json, /debug/pprof/).
//
// # Threading model
//
// gnet runs one event loop per CPU (SO_REUSEPORT: the kernel spreads new
// connections over the loops). Everything about a connection (its parser,
// its queue of pending replies, its timers) is touched only by its loop, so
// the hot path takes no lock shared between loops.
//
// A request whose answer is in memory (the default lookup profile) is
// answered inline, inside OnTraffic, and costs no goroutine and no
// allocation. A request that may block (a latency profile, the metrics
// exposition) becomes a job on a bounded goroutine pool; the job writes its
// complete reply into its own buffer, marks itself done and wakes the loop,
// which moves finished replies to the socket strictly in request order. When
// the pool is full the request is answered 503 with Retry-After at once.
//
// # Bounds
//
// Per connection: at most [Config.MaxPipeline] requests awaiting replies
// (further bytes wait in the inbound buffer, capped at
// [Config.MaxInboundBytes]), at most [Config.MaxOutboundBytes] of replies
// the client has not read, and the header, body, idle and write timeouts of
// [Config]. Per process: [Config.MaxConns] connections and [Config.PoolSize]
// concurrent blocking requests. Everything past a bound is answered with a
// clear status or a closed connection, never with unbounded memory.
//
// # Shutdown
//
// [Server.Shutdown] makes /readyz fail at once, keeps serving for
// [Config.DrainDelay] so load balancers notice, then answers every further
// request with "Connection: close", closes idle keep-alive connections, waits
// for in-flight requests and stops the loops.
package server
