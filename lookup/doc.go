// Package lookup answers where prices and market factors come from.
//
// It defines the context-aware interfaces [Catalog] (product -> base price)
// and [Markets] (location -> price multiplier), in-memory implementations
// loaded from CSV ([MemoryCatalog], [MemoryMarkets]; the default data is
// embedded in the binary), and latency profiles ([Profile]) that wrap any
// Catalog or Markets to simulate slow or failing back ends.
//
// In-memory implementations also satisfy [InstantCatalog] /
// [InstantMarkets]: their answers never block, so a caller may answer on
// an event loop without a goroutine hop. A wrapped (profiled) lookup does
// not satisfy those interfaces.
//
// Keys are byte slices so that the in-memory path does not allocate; an
// implementation must not retain a key after its method returns.
//
// # CSV format
//
// The catalog file has the header "product_id,base_price" and one row per
// product; the markets file has the header "location,multiplier" and one
// row per market, where the location "*" is the default used for unknown
// locations (1 if there is no such row). Ids are 1..[MaxKeyLen] bytes and
// unique; prices and multipliers are decimals as accepted by
// [money.Parse] and must be greater than zero. Lines starting with '#' are
// comments. A bad file is refused with its name, the line number and the
// reason.
package lookup

//go:generate go test -run=TestEmbeddedData -update .
