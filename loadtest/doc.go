// Package loadtest generates HTTP/1.1 load against the pricing API and
// judges the outcome against a service-level objective.
//
// Two load shapes are offered:
//
//   - Closed loop (Config.Rate == 0): Config.Users virtual users, each on its
//     own keep-alive connection, send a request, wait for the reply, then
//     think for a random time drawn uniformly from [ThinkMin, ThinkMax] (the
//     classic Locust workload waits 0.5-2 s). Thinking users sleep on a timer
//     and burn no CPU, so tens of thousands of users are cheap.
//   - Open loop (Config.Rate > 0): requests are due at a constant arrival
//     rate and Config.Users connections take them in order. The latency of a
//     request is measured from the time it was due, not from the time it was
//     sent, so a stalled server cannot hide its stall by slowing the
//     generator down (no coordinated omission).
//
// The generator speaks HTTP/1.1 itself on net.Conn: request bytes are
// rendered into reused buffers, responses are framed by Content-Length (or
// chunked transfer coding) and parsed in place, and every 200 reply body is
// decoded and checked against the request (see Workload). In the steady
// state a request costs no heap allocation.
//
// Latencies go into HdrHistograms (microsecond resolution, three
// significant digits). Failures are counted by reason: HTTP status,
// timeout, connection error, malformed HTTP and bad body. A Result can be
// judged by an SLO (ParseSLO), written as JSON and plotted (WritePlot).
//
// Traffic is refused for targets that are not loopback addresses unless
// Config.AllowRemote is set, and every run is bounded by Config.Duration and
// optionally by Config.MaxRequests.
package loadtest
