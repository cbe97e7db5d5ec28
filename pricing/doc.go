// Package pricing is the domain of the price service: the request and
// quote types, validation with FastAPI/pydantic-shaped errors, the
// [Engine] that prices a request over a [lookup.Source], the per-event-loop
// [Loop] that drives single and batch requests, and JSON in/out.
//
// It knows nothing about HTTP transport; errors carry the status code the
// edge should answer with ([Error]), and an [Exchange] carries the status,
// Retry-After and JSON body of its reply. [Engine], [Loop] and [Exchange]
// implement the interfaces of package [pricer], which is all an HTTP
// server sees of them: the server does not import this package.
//
// # One price path
//
// Every request is priced the same way, whoever drives it: the body is
// decoded, the lookups begin (one [lookup.Call] for the catalog and the
// market, concurrent by contract), and when they answer (at once, or
// later) the engine's one quote computation (computeQuote, where the
// rules plug in) or the status of the lookup's error makes the reply: 404
// unknown product, 502 invalid stored value, 503 with Retry-After for a
// failed or late back end.
//
// An event loop drives a [Loop] ([Engine.NewLoop]), its per-loop handle:
// [Loop.Serve] and [Loop.ServeBatch] answer at once or leave the request
// pending, [Loop.Flush] sends the pending lookups of one loop iteration
// together, the Exchange's Done reports a pending request (or, for a
// batch, its last item) answered and [Loop.Complete] then makes the
// reply on the loop. A batch prices its items on the loop's lookups and
// demand counts as single requests, and writes each item as the single
// request would answer ([AppendBatchItemError]). Goroutine-per-request
// callers (the admin listener, reference servers) use [Engine.Price] and
// [Engine.PriceBatch] (or, with decoders of their own, [Engine.ServeWait],
// [Engine.Wait] and [Engine.ServeBatchWait]), which block on the same
// path.
//
// # Signed quotes
//
// A request with "quote": true (or a batch, or a batch item) gets its
// price signed by the engine's [quote.Keyring] (Config.Quotes): the
// reply's last member is the quote object ([Quote].Signed), made by the
// Loop's own signer without allocating. Without keys such a request is
// refused with a 422. [Engine.VerifyQuote] answers POST
// /api/v1/quotes/verify.
//
// # Price history and prior prices
//
// With a [history.Merger] (Config.History) every price the engine
// computes is recorded: on the Loop's own history shard, or through the
// merger for callers without a loop. While an announced reduction
// applies ([rules.Result].Reduction), the quote carries its prior price
// (the lowest recorded in the omnibus window before the reduction's
// start, or the list price without the reduction when nothing was) and,
// when the history covers less than the window, where it starts.
//
// # Hot path
//
// A Loop and reused Exchanges price a request or a batch without
// allocating, inline or pending. Error paths may allocate.
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
