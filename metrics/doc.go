// Package metrics owns every Prometheus collector the service exposes: their
// names, help texts, labels and buckets live here and nowhere else.
//
// A [Set] is created once at start and registered on its own registry, so
// tests can build as many independent sets as they like. The hot path asks a
// Set for pre-resolved observers so that recording a request costs no map
// look-up by label values and no allocation: each event loop records
// request durations through a [RequestLoop] into counts of its own
// ([LoopHistogramVec]: no atomic operation another loop contends for,
// merged at scrape time into the exposition client_golang would give), and
// requests answered off the loops through [Set.Request].
//
// Exposed series:
//
//	http_request_duration_seconds{method,endpoint,code}  histogram (classic + native)
//	pricing_requests_in_flight                             gauge (waiting + pool queued + pool busy)
//	pricing_lookups_waiting                                gauge
//	pricing_lookups_waiting_limit                          gauge
//	pricing_connections_open                               gauge
//	pricing_requests_rejected_total{reason}                counter
//	pricing_accept_errors_total{reason}                    counter
//	pricing_buffered_bytes                                 gauge
//	pricing_lookup_duration_seconds{lookup,outcome}        histogram
//	pricing_pool_queue_depth                               gauge
//	pricing_pool_workers_busy                              gauge
//	pricing_build_info{version,revision,goversion}         gauge (always 1)
//	go_*, process_*                                        runtime and process collectors
package metrics
