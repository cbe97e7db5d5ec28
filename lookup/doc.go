// Package lookup answers where prices and market factors come from.
//
// A [Source] is where the base price of a product and the multiplier of a
// location come from: [Memory] (CSV data loaded into memory; the default
// data is embedded in the binary), a latency [Profile] wrapping any Source
// to simulate slow or failing back ends ([Profile.Wrap]), or a networked
// store. The two lookups of one request are one [Call], answered together
// so that they always run concurrently.
//
// The contract is "answer now or call me back": a goroutine (an event
// loop) gets its own [Batcher] from [Source.NewBatcher]; [Batcher.Lookup]
// either answers a Call at once, without blocking or allocating (memory,
// a warm cache), or keeps it and later calls Call.Done from any goroutine.
// The caller flushes its Batcher once per loop iteration in which Calls
// were kept ([Keeper]), so that a networked store sends the misses of one
// iteration in one round trip. A Batcher that can complete on its
// caller's goroutine ([Pumped]) gathers the answers that arrive together
// and asks its caller once for a Flush, which calls their Done: an event
// loop then wakes once for all of them. Nothing here starts a goroutine
// per Call.
//
// Keys are byte slices so that the in-memory path does not allocate; a
// Source must not retain them past the Call's completion.
//
// # CSV format
//
// The catalog file has the header "product_id,base_price" and one row per
// product; the markets file has the header "location,multiplier" and one
// row per market, where the location "*" is the default used for unknown
// locations (1 if there is no such row). Ids are 1..[MaxKeyLen] bytes and
// unique; prices and multipliers are decimals as accepted by
// [money.Parse], a price in (0, 10^9] and a multiplier in (0, 100] (see
// [CheckPrice], [CheckMultiplier]). Lines starting with '#' are
// comments. A bad file is refused with its name, the line number and the
// reason.
package lookup

//go:generate go test -run=TestEmbeddedData -update .
