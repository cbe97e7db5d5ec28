// Package pricing is the domain of the price service: the request and
// quote types, validation with FastAPI/pydantic-shaped errors, the
// [Engine] that prices a request over a [lookup.Source], and JSON in/out.
//
// It knows nothing about HTTP transport; errors carry the status code the
// edge should answer with ([Error]), and an [Exchange] carries the status,
// Retry-After and JSON body of its reply.
//
// # One price path
//
// Every request is priced the same way, whoever drives it: [Engine.Serve]
// decodes the body and [Engine.Begin] starts the lookups (one
// [lookup.Call] for the catalog and the market, concurrent by contract);
// when they answer at once the reply is made on the spot, otherwise the
// caller gets the Call's Done and then calls [Engine.Complete]. Both end
// in the engine's one quote computation (computeQuote, where the rules
// plug in) or in the status of the lookup's error: 404 unknown product,
// 502 invalid stored value, 503 with Retry-After for a failed or late back
// end. Event loops use Serve/Begin/Complete; goroutine-per-request callers
// (the admin listener, reference servers) use [Engine.ServeWait] and
// [Engine.Wait], which block on the same path.
//
// # Hot path
//
// A [Decoder] and a [lookup.Batcher] per event loop and reused Exchanges
// price a request without allocating, inline or asynchronously. Error
// paths may allocate.
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
