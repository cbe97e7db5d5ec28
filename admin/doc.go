// Package admin is the governed way to change a price: the admin write
// API served on the admin listener under /admin/v1/.
//
// Requests carry "Authorization: Bearer <token>"; tokens come from a file
// of lines "<name> <scope> <token>" ([Tokens]), re-read when it changes,
// compared in constant time, never logged. A read token may GET; a write
// token may also PUT, DELETE and POST. Without a tokens file every request
// answers 403.
//
// Resources: products/{id} ({"base_price":"52.99"}) and
// markets/{location} ({"multiplier":"1.10"}, "*" is the default market),
// each with a version sent as its ETag. Updates and deletes need
// If-Match, creates If-None-Match: *; an Idempotency-Key makes a write
// safe to retry. POST changes applies up to [MaxChanges] items, each on
// its own; POST {products|markets}/{id}/revert writes an earlier
// version's value again; GET audit?key=product:P-1 pages through a key's
// audit trail, newest first.
//
// The package knows nothing of the price path: it drives a
// [lookup.Writer] (the memory store, or the Redis store's Lua scripts in
// lookup/redisstore), which applies the value, the version, the audit
// entry and the idempotency record in one atomic step and answers once
// the store has acknowledged the write. The contract for clients, with
// every status, is docs/ADMIN.md.
package admin
