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
//
// # Request bodies
//
// Bodies are strict JSON (RFC 8259), as the Python service's parser was:
// a raw control character, an unknown escape or invalid UTF-8 in a
// string, NaN, Infinity, and numbers such as 01, 1., +1 or .5 are 400
// "invalid JSON: <why> at offset <n>". One UTF-8 byte-order mark before
// the body is ignored. Values may nest at most [MaxDepth] (300) levels,
// the top-level object being level 1; deeper bodies are 400 too.
// Everything encoding/json.Valid refuses is refused (FuzzDecodeJSONValid).
//
// A single request ([Decoder.Decode]) may carry "explain" (a lax boolean,
// like is_prime_member) into [Request.Explain]. A batch
// ([Decoder.DecodeBatch]) holds 1..[MaxBatchItems] items, each decoded as
// a single request; a bad item is an error of that item ([Batch].Errs),
// not of the batch. [AppendBatchOpen], [AppendBatchItemQuote],
// [AppendBatchItemError] and [AppendBatchClose] write the reply.
package pricing
