// Package pricing is the domain of the price service: the request and
// quote types, validation with FastAPI/pydantic-shaped errors, the
// [Engine] that gathers the catalog and market lookups, and JSON in/out.
//
// It knows nothing about HTTP transport; errors carry the status code the
// edge should answer with ([Error]).
//
// # Hot path
//
// A [Decoder] (one per event loop), a reused [Request] and [Quote], and
// [AppendQuote] into a reused buffer price a request without allocating
// when the lookups are in memory ([Engine.PriceInline]). Error paths may
// allocate.
package pricing
