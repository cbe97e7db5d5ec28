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
package pricing
