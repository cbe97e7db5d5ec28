// Package server is the network side of pricing-engine: it accepts
// connections on gnet event loops, frames requests with [httpparse], routes
// them, asks a pricing engine for quotes and writes the replies back in
// request order. It knows the engine only through the interfaces of
// package [pricer] (the command passes it a pricing.Engine), so nothing
// it builds on stores, rules or demand counting. A second, ordinary net/http listener serves the admin
// routes (/metrics, /healthz, /readyz, /docs, /openapi.json, /debug/pprof/).
//
// # Threading model
//
// gnet runs one event loop per CPU (SO_REUSEPORT: the kernel spreads new
// connections over the loops). Everything about a connection (its parser,
// its queue of pending replies, its timers) is touched only by its loop, so
// the hot path takes no lock shared between loops.
//
// A price or batch request is handed to the loop's [pricer.Loop] (its
// decoder, lookups, demand counts and batches); the server knows neither
// the back end nor the rules. When the lookups answer at once (the memory
// store, a cache hit) the request is answered inline, inside OnTraffic,
// with no goroutine and no allocation. When they do not (a latency
// profile, a store miss) the request becomes a pending job with no
// goroutine of its own: a networked store keeps the lookups until the
// pricing handle is flushed, once per loop iteration (so it sends the
// misses of one iteration together, a batch's items included); the
// latency profile takes each at once. A source that can complete on the
// loop (the latency profile's timers, the Redis store's replies) keeps the
// answers that arrive together and asks the loop once for a drain; the
// drain flushes the pricing handle, whose exchanges' done callbacks (for a
// batch, once its last item answered) push the jobs onto the loop's
// lock-free completion stack on the loop itself. A source completing on
// its own goroutines pushes there, and only the push that finds the stack
// empty wakes the loop (gnet's EventLoop.Execute). The drain takes every
// completion at once, builds the replies and resumes each connection
// concerned once: one write per connection per drain, strictly in request
// order with the inline answers around them (the connection's pending
// queue keeps the order). A quote verification (POST
// /api/v1/quotes/verify, pricer.Engine.VerifyQuote) needs no lookup and is
// always answered inline. The metrics exposition, which takes
// milliseconds, runs on a bounded goroutine pool instead.
//
// A loop is also the [loophost.Host] of its pricing handle (host.go): a
// store that keeps a connection of its own on each loop (the Redis
// store's reads) attaches it there. Its replies are read in the same
// epoll wait as the clients' requests, handed to the store, and the
// requests they answered are replied to in the same wake-up. Such a peer
// connection is not counted against the connection limit, not scanned
// for timeouts and not drained; the store owns it.
//
// The replies the server makes itself (404, 405, 415, 503 overloaded,
// 408, 500 ...) come from one vocabulary (canned, respond.go), and every
// panic while serving, on a loop or on the admin listener, takes one
// recover path (recover.go).
//
// # Admission control
//
// A request's lookup deadline counts from when its bytes arrived. The loop
// measures its own queueing delay (how long each wake waited for the
// loop, a sample per drain) and, while the minimum over 100 ms stays above
// [Config.QueueTarget], answers a growing share of new price requests 503
// with Retry-After at once, before decoding them (CoDel-like; see
// admission.go).
//
// # Bounds
//
// Per connection: at most [Config.MaxPipeline] requests awaiting replies
// (further bytes wait in the inbound buffer, capped at
// [Config.MaxInboundBytes]), at most [Config.MaxOutboundBytes] of replies
// the client has not read, and the header, body, idle and write timeouts of
// [Config]. Per process: [Config.MaxConns] connections, [Config.MaxWaiting]
// price and batch requests waiting on lookups and [Config.PoolSize] pool workers (503
// past either). Everything past a bound is answered with a clear status or
// a closed connection, never with unbounded memory.
//
// # Shutdown
//
// [Server.Shutdown] makes /readyz fail at once, keeps serving for
// [Config.DrainDelay] so load balancers notice, then answers every further
// request with "Connection: close", closes idle keep-alive connections, waits
// for in-flight requests (those waiting on lookups included) and stops the
// loops.
package server
